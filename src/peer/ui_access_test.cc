// Who may use the web UI: the secret file, the cookie and the Bearer
// header, the CSRF token, and the Host and Origin checks against DNS
// rebinding and other sites' pages.
#include "peer/ui_access.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ferry {
namespace {

const std::string kSecret(64, 'a');

HttpRequest Request(std::string host, std::vector<std::pair<std::string, std::string>> extra = {}) {
  HttpRequest r = HttpRequest::For("GET", "/api/v1/session");
  r.headers.emplace_back("Host", std::move(host));
  for (auto& h : extra) r.headers.push_back(std::move(h));
  return r;
}

TEST(UiSecretTest, IsMadeOnceWithModeSixHundredAndKept) {
  auto dir = std::filesystem::path(::testing::TempDir()) / "ui-secret-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "ui-secret").string();
  auto first = LoadOrCreateUiSecret(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = LoadOrCreateUiSecret(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  std::ofstream(path) << "not a secret\n";
  auto bad = LoadOrCreateUiSecret(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("delete it"), std::string::npos);
}

TEST(UiAccessTest, TakesTheSecretAsCookieOrBearerOnly) {
  UiAccess access(kSecret, "127.0.0.1", 7090);
  bool by_cookie = false;
  EXPECT_EQ(access.Authenticate(Request("127.0.0.1:7090"), &by_cookie).code(),
            Code::kUnauthenticated);
  EXPECT_TRUE(access
                  .Authenticate(Request("127.0.0.1:7090", {{"Cookie", "x=1; ferry_ui=" + kSecret}}),
                                &by_cookie)
                  .ok());
  EXPECT_TRUE(by_cookie);
  EXPECT_TRUE(access
                  .Authenticate(Request("127.0.0.1:7090", {{"Authorization", "Bearer " + kSecret}}),
                                &by_cookie)
                  .ok());
  EXPECT_FALSE(by_cookie);
  std::string wrong = kSecret;
  wrong.back() = 'b';
  EXPECT_FALSE(
      access.Authenticate(Request("127.0.0.1:7090", {{"Cookie", "ferry_ui=" + wrong}}), &by_cookie)
          .ok());
  EXPECT_FALSE(access
                   .Authenticate(Request("127.0.0.1:7090", {{"Authorization", "Bearer " + wrong}}),
                                 &by_cookie)
                   .ok());
  // A wrong Bearer header is not rescued by a right cookie.
  EXPECT_FALSE(access
                   .Authenticate(Request("127.0.0.1:7090", {{"Authorization", "Bearer x"},
                                                            {"Cookie", "ferry_ui=" + kSecret}}),
                                 &by_cookie)
                   .ok());
  EXPECT_FALSE(
      access.Authenticate(Request("127.0.0.1:7090", {{"Cookie", "ferry_ui="}}), &by_cookie).ok());
}

TEST(UiAccessTest, CsrfTokenIsDerivedFromTheSecretAndChecked) {
  UiAccess access(kSecret, "127.0.0.1", 7090);
  UiAccess other(std::string(64, 'c'), "127.0.0.1", 7090);
  EXPECT_EQ(access.csrf_token().size(), 64u);
  EXPECT_NE(access.csrf_token(), other.csrf_token());
  EXPECT_NE(access.csrf_token(), kSecret);
  EXPECT_EQ(access.CheckCsrf(Request("127.0.0.1:7090")).code(), Code::kPermissionDenied);
  EXPECT_EQ(
      access.CheckCsrf(Request("127.0.0.1:7090", {{"X-CSRF-Token", other.csrf_token()}})).code(),
      Code::kPermissionDenied);
  EXPECT_TRUE(
      access.CheckCsrf(Request("127.0.0.1:7090", {{"x-csrf-token", access.csrf_token()}})).ok());
}

TEST(UiAccessTest, RefusesForeignHostsAndOrigins) {
  UiAccess access(kSecret, "127.0.0.1", 7090);
  for (const char* host : {"127.0.0.1:7090", "localhost:7090", "LOCALHOST:7090", "[::1]:7090"}) {
    EXPECT_TRUE(access.CheckHost(Request(host)).ok()) << host;
  }
  // DNS rebinding: evil.example resolved to 127.0.0.1 sends its own name.
  for (const char* host : {"evil.example:7090", "127.0.0.1:7091", "127.0.0.1", "", "::1:7090"}) {
    EXPECT_EQ(access.CheckHost(Request(host)).code(), Code::kPermissionDenied) << host;
  }
  EXPECT_TRUE(
      access.CheckHost(Request("127.0.0.1:7090", {{"Origin", "http://127.0.0.1:7090"}})).ok());
  EXPECT_TRUE(
      access.CheckHost(Request("127.0.0.1:7090", {{"Origin", "http://localhost:7090"}})).ok());
  for (const char* origin : {"http://evil.example", "https://127.0.0.1:7090", "null",
                             "http://127.0.0.1:7090.evil.example", "http://127.0.0.1:80"}) {
    EXPECT_EQ(access.CheckHost(Request("127.0.0.1:7090", {{"Origin", origin}})).code(),
              Code::kPermissionDenied)
        << origin;
  }
}

TEST(UiAccessTest, ListensHostIsItsOwnNameFirst) {
  UiAccess access(kSecret, "192.0.2.7", 8000);
  EXPECT_TRUE(access.CheckHost(Request("192.0.2.7:8000")).ok());
  EXPECT_EQ(access.LoginLink(), "http://192.0.2.7:8000/login?secret=" + kSecret);
  UiAccess any(kSecret, "0.0.0.0", 8000);
  EXPECT_EQ(any.CheckHost(Request("0.0.0.0:8000")).code(), Code::kPermissionDenied);
  EXPECT_EQ(any.LoginLink(), "http://127.0.0.1:8000/login?secret=" + kSecret);
  EXPECT_EQ(access.LoginCookie(), "ferry_ui=" + kSecret + "; HttpOnly; SameSite=Strict; Path=/");
}

}  // namespace
}  // namespace ferry
