#include "directory/directory_requests.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry {
namespace {

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

std::string File(const std::string& path, const std::string& extra = "") {
  return R"({"path":")" + path + R"(","size":5,"sha256":")" + kHashA + R"(","mtime":7)" + extra +
         "}";
}

std::string Announce(const std::string& files) {
  return R"({"address":"127.0.0.1:7443","cert_sha256":")" + kHashB + R"(","files":[)" + files +
         "]}";
}

void ExpectInvalid(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(DirectoryRequestsTest, FirstAnnounceParsed) {
  auto req = ParseAnnounce(Announce(File("music/a.ogg") + "," + File("b")));
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_FALSE(req->peer_id);
  EXPECT_EQ(*req->address, "127.0.0.1:7443");
  EXPECT_EQ(*req->cert_sha256, kHashB);
  ASSERT_EQ(req->files->size(), 2u);
  EXPECT_EQ((*req->files)[0].path, "music/a.ogg");
  EXPECT_EQ((*req->files)[0].size, 5);
  EXPECT_EQ((*req->files)[0].mtime, 7);
}

TEST(DirectoryRequestsTest, HexIsKeptInLowerCase) {
  std::string upper(64, 'A');
  auto req = ParseAnnounce(R"({"address":"h:1","cert_sha256":")" + upper + R"(","files":[]})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(*req->cert_sha256, kHashA);
}

TEST(DirectoryRequestsTest, DeltaAnnounceNeedsPeerId) {
  std::string id(32, 'c');
  auto delta = ParseAnnounce(R"({"peer_id":")" + id + R"(","added":[)" + File("x") +
                             R"(],"removed":["y/z"]})");
  ASSERT_TRUE(delta.ok()) << delta.status().ToString();
  EXPECT_EQ(*delta->peer_id, id);
  EXPECT_EQ(delta->added.size(), 1u);
  EXPECT_EQ(delta->removed, std::vector<std::string>{"y/z"});
  ExpectInvalid(ParseAnnounce(R"({"address":"h:1","cert_sha256":")" + kHashA +
                              R"(","files":[],"removed":["a"]})")
                    .status(),
                "peer_id");
}

TEST(DirectoryRequestsTest, BadAnnouncesNameTheField) {
  ExpectInvalid(ParseAnnounce("{").status(), "not valid JSON");
  ExpectInvalid(ParseAnnounce("[1]").status(), "JSON object");
  ExpectInvalid(ParseAnnounce("\"\xff\"").status(), "not valid JSON");
  ExpectInvalid(ParseAnnounce(R"({"cert_sha256":")" + kHashA + R"(","files":[]})").status(),
                "'address' is missing");
  ExpectInvalid(ParseAnnounce(R"({"address":"h:1","files":[]})").status(), "cert_sha256");
  ExpectInvalid(ParseAnnounce(R"({"address":"h:1","cert_sha256":"abc","files":[]})").status(),
                "64 hex digits");
  ExpectInvalid(ParseAnnounce(R"({"address":"h:1","cert_sha256":")" + kHashA + R"("})").status(),
                "'files' is missing");
  ExpectInvalid(
      ParseAnnounce(R"({"address":"h:1","cert_sha256":")" + kHashA + R"(","files":{}})").status(),
      "'files' must be an array");
  ExpectInvalid(ParseAnnounce(Announce("1")).status(), "files[0] must be an object");
  ExpectInvalid(ParseAnnounce(Announce(File("a") + "," + File("a"))).status(), "appears twice");
  ExpectInvalid(
      ParseAnnounce(Announce(R"({"path":"a","size":-1,"sha256":")" + kHashA + R"(","mtime":1})"))
          .status(),
      "files[0]: 'size'");
  ExpectInvalid(
      ParseAnnounce(Announce(R"({"path":"a","size":1.5,"sha256":")" + kHashA + R"(","mtime":1})"))
          .status(),
      "'size'");
  ExpectInvalid(
      ParseAnnounce(Announce(R"({"path":"a","size":"1","sha256":")" + kHashA + R"(","mtime":1})"))
          .status(),
      "'size'");
  ExpectInvalid(
      ParseAnnounce(Announce(R"({"path":"a","size":1,"sha256":"zz","mtime":1})")).status(),
      "files[0]: 'sha256'");
  ExpectInvalid(
      ParseAnnounce(Announce(R"({"path":"a","size":1,"sha256":")" + kHashA + R"("})")).status(),
      "'mtime' is missing");
  ExpectInvalid(ParseAnnounce(R"({"peer_id":"XYZ"})").status(), "peer_id");
}

TEST(DirectoryRequestsTest, TooManyFilesRefused) {
  std::string many = R"({"address":"h:1","cert_sha256":")" + kHashA + R"(","files":[)";
  for (size_t i = 0; i <= dirapi::kMaxFilesPerAnnounce; ++i) many += i ? ",0" : "0";
  many += "]}";
  ExpectInvalid(ParseAnnounce(many).status(), "at most 100000");
}

TEST(DirectoryRequestsTest, AddressesAreChecked) {
  for (const char* good : {"127.0.0.1:7443", "[::1]:1", "peer.example.org:65535", "host-1:80"}) {
    EXPECT_TRUE(ValidatePeerAddress(good).ok()) << good;
  }
  for (const char* bad :
       {"", "host", ":80", "host:", "host:0", "host:65536", "host:+80", "host:080", "999.1.1.1:80",
        "[::1:80", "[zz]:80", "ho st:80", "-host:80", "a..b:80", "[]:80", "host:8o"}) {
    EXPECT_FALSE(ValidatePeerAddress(bad).ok()) << bad;
  }
}

TEST(DirectoryRequestsTest, CredentialsAreChecked) {
  auto ok = ParseCredentials(R"({"username":"alice","password":"long enough"})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->username, "alice");
  ExpectInvalid(ParseCredentials(R"({"username":"Alice!","password":"long enough"})").status(),
                "user name");
  ExpectInvalid(ParseCredentials(R"({"username":"alice","password":"short"})").status(),
                "8 characters");
  ExpectInvalid(ParseCredentials(R"({"username":"alice"})").status(), "'password' is missing");
  // A login checks any password against the hash; only registering sets rules.
  EXPECT_TRUE(
      ParseCredentials(R"({"username":"alice","password":"short"})", CredentialUse::kLogin).ok());
  ExpectInvalid(ParseCredentials(R"({"username":5,"password":"long enough"})").status(),
                "'username' must be a string");
}

TEST(DirectoryRequestsTest, SearchParameters) {
  using Params = std::multimap<std::string, std::string>;
  auto text = ParseSearch(Params{{"q", "song"}, {"limit", "10"}, {"offset", "20"}});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->text, "song");
  EXPECT_EQ(text->limit, 10);
  EXPECT_EQ(text->offset, 20);
  auto sha = ParseSearch(Params{{"sha256", std::string(64, 'F')}});
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(sha->sha256, std::string(64, 'f'));
  EXPECT_EQ(sha->limit, 50);
  ExpectInvalid(ParseSearch(Params{}).status(), "either 'q' or 'sha256'");
  ExpectInvalid(ParseSearch(Params{{"q", "a"}, {"sha256", kHashA}}).status(), "either");
  ExpectInvalid(ParseSearch(Params{{"q", ""}}).status(), "1 to 256");
  ExpectInvalid(ParseSearch(Params{{"q", std::string(257, 'x')}}).status(), "1 to 256");
  ExpectInvalid(ParseSearch(Params{{"q", "\xc3\x28"}}).status(), "UTF-8");
  ExpectInvalid(ParseSearch(Params{{"q", "a\x01"}}).status(), "control");
  ExpectInvalid(ParseSearch(Params{{"sha256", "abc"}}).status(), "64 hex");
  ExpectInvalid(ParseSearch(Params{{"q", "x"}, {"limit", "0"}}).status(), "'limit'");
  ExpectInvalid(ParseSearch(Params{{"q", "x"}, {"limit", "1001"}}).status(), "'limit'");
  ExpectInvalid(ParseSearch(Params{{"q", "x"}, {"limit", "5x"}}).status(), "'limit'");
  ExpectInvalid(ParseSearch(Params{{"q", "x"}, {"offset", "-1"}}).status(), "'offset'");
  ExpectInvalid(ParseSearch(Params{{"q", "x"}, {"limit", "1"}, {"limit", "2"}}).status(),
                "more than once");
}

TEST(DirectoryRequestsTest, HeartbeatAndPeerIds) {
  std::string id = "0123456789abcdef0123456789abcdef";
  auto hb = ParseHeartbeat(R"({"peer_id":")" + id + R"("})");
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(*hb, id);
  ExpectInvalid(ParseHeartbeat("{}").status(), "'peer_id' is missing");
  ExpectInvalid(ParseHeartbeat(R"({"peer_id":"0123456789ABCDEF0123456789ABCDEF"})").status(),
                "32 lower-case");
  EXPECT_TRUE(IsPeerId(id));
  EXPECT_FALSE(IsPeerId(id.substr(1)));
}

TEST(DirectoryRequestsTest, TicketBodies) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  const std::string ticket(64, 'e');
  auto request = ParseTicketRequest(R"({"peer_id":")" + id + R"("})");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_EQ(request->peer_id, id);
  auto check = ParseTicketCheck(R"({"peer_id":")" + id + R"(","ticket":")" + ticket + R"("})");
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->peer_id, id);
  EXPECT_EQ(check->ticket, ticket);
  // Strict JSON, as every other body.
  ExpectInvalid(
      ParseTicketRequest(R"({"peer_id":")" + id + R"(","peer_id":")" + id + R"("})").status(),
      "twice");
  ExpectInvalid(ParseTicketCheck(R"({"peer_id":")" + id + R"(","ticket":[[[1]]]})", 2).status(),
                "deep");
  ExpectInvalid(ParseTicketCheck("[]").status(), "must be a JSON object");
  ExpectInvalid(
      ParseTicketCheck(R"({"peer_id":")" + id + R"(","ticket":")" + std::string(64, 'E') + R"("})")
          .status(),
      "'ticket' must be 64 lower-case hex digits");
}

}  // namespace
}  // namespace ferry
