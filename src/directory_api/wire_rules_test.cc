#include "directory_api/wire_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::dirapi {
namespace {

void ExpectInvalid(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(WireRulesTest, PeerIdIs32LowerCaseHexDigits) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(IsPeerId(id));
  EXPECT_TRUE(ValidatePeerId(id).ok());
  EXPECT_FALSE(IsPeerId(""));
  EXPECT_FALSE(IsPeerId(id.substr(1)));                        // 31 digits
  EXPECT_FALSE(IsPeerId(id + "0"));                            // 33 digits
  EXPECT_FALSE(IsPeerId(std::string(64, 'a')));                // the client's old upper bound
  EXPECT_FALSE(IsPeerId("0123456789ABCDEF0123456789ABCDEF"));  // upper case
  EXPECT_FALSE(IsPeerId("0123456789abcdeg0123456789abcdef"));  // not hex
  EXPECT_FALSE(IsPeerId("../../0123456789abcdef0123456789a"));
  ExpectInvalid(ValidatePeerId("ABC"), "'peer_id' must be 32 lower-case hex digits");
  ExpectInvalid(ValidatePeerId("x", "id"), "'id' must be 32");
}

TEST(WireRulesTest, TicketIs64LowerCaseHexDigits) {
  const std::string ticket = std::string(32, '0') + "123456789abcdef0123456789abcdef0";
  EXPECT_TRUE(IsTicket(ticket));
  EXPECT_TRUE(ValidateTicket(ticket).ok());
  EXPECT_FALSE(IsTicket(""));
  EXPECT_FALSE(IsTicket(ticket.substr(1)));            // 63 digits
  EXPECT_FALSE(IsTicket(ticket + "0"));                // 65 digits
  EXPECT_FALSE(IsTicket(std::string(32, 'a')));        // a peer id's length
  EXPECT_FALSE(IsTicket(std::string(64, 'A')));        // upper case is not lowered
  EXPECT_FALSE(IsTicket(std::string(63, 'a') + "g"));  // not hex
  EXPECT_FALSE(IsTicket(std::string(63, 'a') + " "));  // nothing around it
  ExpectInvalid(ValidateTicket("x"), "'ticket' must be 64 lower-case hex digits");
  ExpectInvalid(ValidateTicket("x", "t"), "'t' must be 64");
}

TEST(WireRulesTest, Sha256IsKeptInLowerCase) {
  auto upper = CanonicalSha256(std::string(64, 'A'), "sha256");
  ASSERT_TRUE(upper.ok()) << upper.status().ToString();
  EXPECT_EQ(*upper, std::string(64, 'a'));
  EXPECT_EQ(LowerHex("0aBcDeF9"), "0abcdef9");
  ExpectInvalid(CanonicalSha256("abc", "cert_sha256").status(), "'cert_sha256' must be 64 hex");
  ExpectInvalid(CanonicalSha256(std::string(65, 'a'), "sha256").status(), "64 hex digits");
  ExpectInvalid(CanonicalSha256(std::string(63, 'a') + "g", "sha256").status(), "64 hex digits");
}

TEST(WireRulesTest, SharedPaths) {
  EXPECT_TRUE(ValidateSharedPath("a/b c/d.txt").ok());
  EXPECT_TRUE(ValidateSharedPath("Ünïcode/名前.txt").ok());
  EXPECT_TRUE(ValidateSharedPath(std::string(kMaxSharedPathBytes, 'x')).ok());
  for (const char* bad :
       {"", "/abs", "a//b", "a/./b", "../x", "a/..", "a/", "tab\there", "del\x7f"}) {
    EXPECT_FALSE(ValidateSharedPath(bad).ok()) << bad;
  }
  ExpectInvalid(ValidateSharedPath(std::string(kMaxSharedPathBytes + 1, 'x')), "1 to 4096 bytes");
  ExpectInvalid(ValidateSharedPath(std::string("nul\0byte", 8)), "control characters");
  ExpectInvalid(ValidateSharedPath("/abs"), "relative");
  ExpectInvalid(ValidateSharedPath("a/../b"), "'..' component");
}

TEST(WireRulesTest, FileNamesAreOneComponent) {
  EXPECT_TRUE(ValidateFileName("song.ogg").ok());
  EXPECT_TRUE(ValidateFileName("...").ok());
  for (const char* bad : {"", ".", "..", "a/b", "bell\x07", "line\nbreak"}) {
    EXPECT_EQ(ValidateFileName(bad).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateFileName(std::string(kMaxSharedPathBytes + 1, 'n')).ok());
}

TEST(WireRulesTest, ListSizeLimit) {
  EXPECT_TRUE(ValidateListSize("files", kMaxFilesPerAnnounce).ok());
  ExpectInvalid(ValidateListSize("added", kMaxFilesPerAnnounce + 1),
                "'added' has 100001 entries; at most 100000 are allowed");
}

TEST(WireRulesTest, SearchText) {
  EXPECT_TRUE(ValidateSearchText("song").ok());
  EXPECT_TRUE(ValidateSearchText(std::string(kMaxSearchTextBytes, 'x')).ok());
  ExpectInvalid(ValidateSearchText(""), "1 to 256");
  ExpectInvalid(ValidateSearchText(std::string(kMaxSearchTextBytes + 1, 'x')), "1 to 256");
  ExpectInvalid(ValidateSearchText("\xc3\x28"), "UTF-8");
  ExpectInvalid(ValidateSearchText("a\x01"), "control");
}

TEST(WireRulesTest, TokensAndLoginPasswords) {
  EXPECT_TRUE(ValidateBearerToken(std::string(64, 'f')).ok());
  EXPECT_FALSE(ValidateBearerToken("").ok());
  EXPECT_FALSE(ValidateBearerToken("two words").ok());
  EXPECT_FALSE(ValidateBearerToken("line\r\nX-Injected: 1").ok());
  EXPECT_FALSE(ValidateBearerToken(std::string(kMaxTokenBytes + 1, 'a')).ok());
  EXPECT_TRUE(ValidateLoginPassword("short").ok());
  EXPECT_TRUE(ValidateLoginPassword(std::string(kMaxPasswordBytes, 'p')).ok());
  ExpectInvalid(ValidateLoginPassword(std::string(kMaxPasswordBytes + 1, 'p')), "too long");
}

TEST(WireRulesTest, ControlCharacters) {
  EXPECT_FALSE(HasControl("plain text é"));
  EXPECT_TRUE(HasControl("esc\x1b"));
  EXPECT_TRUE(HasControl("del\x7f"));
  EXPECT_TRUE(HasControl(std::string("\0", 1)));
}

}  // namespace
}  // namespace ferry::dirapi
