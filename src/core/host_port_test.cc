#include "core/host_port.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ferry {
namespace {

using ::testing::HasSubstr;

HostPort Parsed(std::string_view text, const HostPortRules& rules = {}) {
  auto parsed = ParseHostPort(text, rules);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
  return parsed.ok() ? *parsed : HostPort{"<failed>", -1};
}

TEST(HostPortTest, SplitsNamesIpv4AndBracketedIpv6) {
  EXPECT_EQ(Parsed("example.org:443"), (HostPort{"example.org", 443}));
  EXPECT_EQ(Parsed("127.0.0.1:7070"), (HostPort{"127.0.0.1", 7070}));
  EXPECT_EQ(Parsed("[::1]:1"), (HostPort{"::1", 1}));
  EXPECT_EQ(Parsed("[2001:db8::7]:65535"), (HostPort{"2001:db8::7", 65535}));
}

TEST(HostPortTest, ToStringBracketsIpv6Only) {
  EXPECT_EQ((HostPort{"::1", 80}).ToString(), "[::1]:80");
  EXPECT_EQ((HostPort{"h", 80}).ToString(), "h:80");
  EXPECT_EQ(Parsed("[fe80::1]:9").ToString(), "[fe80::1]:9");
}

TEST(HostPortTest, DefaultPortAppliesOnlyWhenTheTextHasNone) {
  HostPortRules rules;
  rules.default_port = 6379;
  EXPECT_EQ(Parsed("cache", rules), (HostPort{"cache", 6379}));
  EXPECT_EQ(Parsed("[::1]", rules), (HostPort{"::1", 6379}));
  EXPECT_EQ(Parsed("cache:7000", rules), (HostPort{"cache", 7000}));
  EXPECT_FALSE(ParseHostPort("cache").ok());
}

TEST(HostPortTest, PortZeroAndEmptyHostOnlyWhereAllowed) {
  EXPECT_FALSE(ParseHostPort("h:0").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
  HostPortRules listen;
  listen.min_port = 0;
  listen.allow_empty_host = true;
  EXPECT_EQ(Parsed("h:0", listen), (HostPort{"h", 0}));
  EXPECT_EQ(Parsed(":80", listen), (HostPort{"", 80}));
  EXPECT_EQ(Parsed("*:80", listen), (HostPort{"*", 80}));
}

TEST(HostPortTest, RefusesMalformedText) {
  for (const char* bad : {"",           "host",
                          "host:",      ":",
                          "host:65536", "host:+80",
                          "host:-1",    "host:080",
                          "host:8o",    "host:99999999999",
                          "::1:80",     "[::1:80",
                          "[::1]80",    "[zz]:80",
                          "[]:80",      "[1.2.3.4]:80",
                          "ho st:80",   "a/b:80",
                          "user@h:80",  "h\t:80",
                          "h:80:90",    "h]:80"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(HostPortTest, MessagesNameTheTextAndWhatIsWrong) {
  HostPortRules rules;
  rules.what = "--listen";
  auto no_port = ParseHostPort("example.org", rules);
  ASSERT_FALSE(no_port.ok());
  EXPECT_EQ(no_port.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(no_port.status().message(), HasSubstr("--listen 'example.org' is not HOST:PORT"));
  auto bad_port = ParseHostPort("h:70000", rules);
  ASSERT_FALSE(bad_port.ok());
  EXPECT_THAT(bad_port.status().message(), HasSubstr("a port is a number from 1 to 65535"));
  auto unbracketed = ParseHostPort("::1:80");
  ASSERT_FALSE(unbracketed.ok());
  EXPECT_THAT(unbracketed.status().message(), HasSubstr("brackets"));
}

}  // namespace
}  // namespace ferry
