#include "directory_api/wire_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "directory_api/wire_rules.h"

namespace ferry::dirapi {
namespace {

const std::string kPeerId = "0123456789abcdef0123456789abcdef";
const std::string kSha(64, 'a');
const std::string kCert(64, 'c');

// Stands in for the host:port parser: "host:port" with a non-empty host.
Status TestAddressRule(std::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size()) {
    return Status::InvalidArgument("'address' must be host:port");
  }
  return Status::Ok();
}

void ExpectInvalid(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

// `base` with `key` set to the JSON `value` ("null" included), or removed
// when `value` is empty.
Json With(Json base, const std::string& key, const std::string& value) {
  if (value.empty()) {
    base.erase(key);
  } else {
    base[key] = Json::parse(value);
  }
  return base;
}

Json FileJson() { return ToJson(SharedFile{"music/song.ogg", 5301234, kSha, 1790000000, ""}); }

Json FirstAnnounce() {
  Announcement a;
  a.address = "203.0.113.7:7443";
  a.cert_sha256 = kCert;
  a.files = std::vector<SharedFile>{{"music/song.ogg", 5, kSha, 7, ""}, {"b", 0, kSha, 0, ""}};
  return ToJson(a);
}

TEST(WireJsonTest, SharedFileRoundTrips) {
  SharedFile f{"a/b.txt", 9'007'199'254'740'993, kSha, 1790000000, ""};
  Json j = ToJson(f);
  EXPECT_EQ(j.dump(), R"({"mtime":1790000000,"path":"a/b.txt","sha256":")" + kSha +
                          R"(","size":9007199254740993})");
  auto back = DecodeSharedFile(j, "");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->path, f.path);
  EXPECT_EQ(back->size, f.size);
  EXPECT_EQ(back->sha256, f.sha256);
  EXPECT_EQ(back->mtime, f.mtime);
}

// chunk_root is optional both ways: absent when empty, checked and lowered
// when given.
TEST(WireJsonTest, SharedFileCarriesAChunkRootWhenItHasOne) {
  SharedFile f{"a.bin", 3, kSha, 4, std::string(64, 'c')};
  Json j = ToJson(f);
  EXPECT_EQ(j["chunk_root"], std::string(64, 'c'));
  auto back = DecodeSharedFile(With(j, "chunk_root", Json(std::string(64, 'C')).dump()), "");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->chunk_root, std::string(64, 'c'));
  auto none = DecodeSharedFile(FileJson(), "");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->chunk_root, "");
  EXPECT_FALSE(FileJson().contains("chunk_root"));
  auto null_root = DecodeSharedFile(With(FileJson(), "chunk_root", "null"), "");
  ASSERT_TRUE(null_root.ok());
  EXPECT_EQ(null_root->chunk_root, "");
  ExpectInvalid(DecodeSharedFile(With(FileJson(), "chunk_root", "\"abc\""), "files[1]: ").status(),
                "files[1]: 'chunk_root' must be 64 hex digits");
  ExpectInvalid(DecodeSharedFile(With(FileJson(), "chunk_root", "7"), "").status(),
                "'chunk_root' must be a string");
}

TEST(WireJsonTest, ContentSourcesRoundTripAndRejects) {
  std::vector<ContentSource> sources{{{kPeerId, "[2001:db8::1]:7443", kCert}, 5, kSha},
                                     {{kPeerId, "h:1", kCert}, 5, ""}};
  Json list = ToJson(sources);
  EXPECT_EQ(list[0]["chunk_root"], kSha);
  EXPECT_FALSE(list[1].contains("chunk_root"));
  auto back = DecodeContentSources(list, TestAddressRule);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].peer.address, "[2001:db8::1]:7443");
  EXPECT_EQ((*back)[0].size, 5);
  EXPECT_EQ((*back)[0].chunk_root, kSha);
  EXPECT_EQ((*back)[1].chunk_root, "");
  EXPECT_EQ(ToJson(*back), list);

  auto one = [](const Json& source) {
    return DecodeContentSources(Json::array({source}), TestAddressRule).status();
  };
  ExpectInvalid(one(With(list[0], "size", "")), "sources[0]: 'size' is missing");
  ExpectInvalid(one(With(list[0], "chunk_root", "\"xyz\"")),
                "sources[0]: 'chunk_root' must be 64 hex digits");
  ExpectInvalid(one(With(list[0], "address", "\"nocolon\"")), "sources[0]: 'address'");
  ExpectInvalid(DecodeContentSources(Json::object(), TestAddressRule).status(),
                "the list of sources must be a JSON array");
}

TEST(WireJsonTest, SharedFileRejects) {
  ExpectInvalid(DecodeSharedFile(Json(1), "files[0]: ").status(), "files[0] must be an object");
  ExpectInvalid(DecodeSharedFile(With(FileJson(), "path", ""), "files[0]: ").status(),
                "files[0]: 'path' is missing");
  ExpectInvalid(DecodeSharedFile(With(FileJson(), "path", "\"../x\""), "files[0]: ").status(),
                "files[0]: the path '../x'");
  ExpectInvalid(DecodeSharedFile(With(FileJson(), "size", "-1"), "f: ").status(),
                "f: 'size' must be a whole number from 0 to 2^63-1");
  for (const char* bad : {"1.5", "\"1\"", "18446744073709551615", "true"}) {
    ExpectInvalid(DecodeSharedFile(With(FileJson(), "size", bad), "").status(), "'size' must be");
  }
  ExpectInvalid(DecodeSharedFile(With(FileJson(), "mtime", "null"), "").status(),
                "'mtime' is missing");
  ExpectInvalid(DecodeSharedFile(With(FileJson(), "sha256", "\"zz\""), "files[2]: ").status(),
                "files[2]: 'sha256' must be 64 hex digits");
  auto upper = DecodeSharedFile(With(FileJson(), "sha256", "\"" + std::string(64, 'A') + "\""), "");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->sha256, kSha);  // kept in lower case
}

TEST(WireJsonTest, FirstAnnounceRoundTrips) {
  Json j = FirstAnnounce();
  EXPECT_FALSE(j.contains("peer_id"));
  EXPECT_FALSE(j.contains("added"));
  EXPECT_FALSE(j.contains("removed"));
  auto a = DecodeAnnouncement(j, TestAddressRule);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->peer_id);
  EXPECT_EQ(*a->address, "203.0.113.7:7443");
  EXPECT_EQ(*a->cert_sha256, kCert);
  ASSERT_EQ(a->files->size(), 2u);
  EXPECT_EQ((*a->files)[0].path, "music/song.ogg");
  EXPECT_EQ((*a->files)[1].size, 0);
  EXPECT_EQ(ToJson(*a), j);
}

TEST(WireJsonTest, DeltaAnnounceRoundTrips) {
  Announcement delta;
  delta.peer_id = kPeerId;
  delta.added = {{"new.txt", 1, kSha, 2, ""}};
  delta.removed = {"music/song.ogg"};
  Json j = ToJson(delta);
  EXPECT_FALSE(j.contains("files"));
  EXPECT_FALSE(j.contains("address"));
  auto a = DecodeAnnouncement(j, TestAddressRule);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a->peer_id, kPeerId);
  EXPECT_FALSE(a->address);
  EXPECT_FALSE(a->files);
  ASSERT_EQ(a->added.size(), 1u);
  EXPECT_EQ(a->added[0].path, "new.txt");
  EXPECT_EQ(a->removed, std::vector<std::string>{"music/song.ogg"});
  // A whole new list with the id is a replacement, not an error.
  Json replace = With(j, "files", "[]");
  auto r = DecodeAnnouncement(replace, TestAddressRule);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->files && r->files->empty());
}

TEST(WireJsonTest, AnnounceRejects) {
  const Json first = FirstAnnounce();
  auto status = [](const Json& j) { return DecodeAnnouncement(j, TestAddressRule).status(); };
  ExpectInvalid(status(Json::array()), "the body must be a JSON object");
  ExpectInvalid(status(With(first, "address", "")), "'address' is missing");
  ExpectInvalid(status(With(first, "address", "null")), "'address' is missing");
  ExpectInvalid(status(With(first, "address", "\"no-port\"")), "'address' must be host:port");
  ExpectInvalid(status(With(first, "address", "\"h:1\\r\\nX: y\"")), "control characters");
  ExpectInvalid(status(With(first, "address", "7443")), "'address' must be a string");
  ExpectInvalid(status(With(first, "cert_sha256", "")), "'cert_sha256' is missing");
  ExpectInvalid(status(With(first, "cert_sha256", "\"abc\"")),
                "'cert_sha256' must be 64 hex digits");
  ExpectInvalid(status(With(first, "files", "")), "'files' is missing (it may be empty)");
  ExpectInvalid(status(With(first, "files", "{}")), "'files' must be an array");
  ExpectInvalid(status(With(first, "files", "[1]")), "files[0] must be an object");
  Json twice = first;
  twice["files"][1]["path"] = "music/song.ogg";
  ExpectInvalid(status(twice), "files: the path 'music/song.ogg' appears twice");
  Json bad_hash = first;
  bad_hash["files"][1]["sha256"] = "zz";
  ExpectInvalid(status(bad_hash), "files[1]: 'sha256' must be 64 hex digits");
  ExpectInvalid(status(With(first, "removed", R"(["a"])")),
                "'added' and 'removed' need the 'peer_id' of an earlier announce");
  ExpectInvalid(status(With(With(first, "peer_id", "\"" + kPeerId + "\""), "removed", "[5]")),
                "removed[0] must be a string");
  ExpectInvalid(status(With(With(first, "peer_id", "\"" + kPeerId + "\""), "removed", R"(["/x"])")),
                "removed[0]: a path must be relative");
  Json dup_added = With(first, "peer_id", "\"" + kPeerId + "\"");
  dup_added["added"] = Json::array({FileJson(), FileJson()});
  ExpectInvalid(status(dup_added), "added: the path");
}

TEST(WireJsonTest, AnnouncePeerIdRule) {
  const Json first = FirstAnnounce();
  auto with_id = [&](const std::string& id) {
    return DecodeAnnouncement(With(first, "peer_id", Json(id).dump()), TestAddressRule).status();
  };
  EXPECT_TRUE(with_id(kPeerId).ok());
  for (const std::string& bad :
       {std::string("XYZ"), std::string("0123456789ABCDEF0123456789ABCDEF"), kPeerId + "0",
        kPeerId.substr(1), std::string(64, 'a'), std::string("")}) {
    ExpectInvalid(with_id(bad), "'peer_id' must be 32 lower-case hex digits");
  }
  ExpectInvalid(DecodeAnnouncement(With(first, "peer_id", "32"), TestAddressRule).status(),
                "'peer_id' must be a string");
}

TEST(WireJsonTest, TooManyFilesRefused) {
  Json many = FirstAnnounce();
  many["files"] = Json::array();
  for (size_t i = 0; i <= kMaxFilesPerAnnounce; ++i) many["files"].push_back(0);
  ExpectInvalid(DecodeAnnouncement(many, TestAddressRule).status(),
                "'files' has 100001 entries; at most 100000 are allowed");
}

TEST(WireJsonTest, CredentialsRoundTripAndRules) {
  Credentials c{"alice", "long enough"};
  auto back = DecodeCredentials(ToJson(c), CredentialUse::kRegister);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->username, "alice");
  EXPECT_EQ(back->password, "long enough");
  Json short_password = ToJson(Credentials{"alice", "short"});
  ExpectInvalid(DecodeCredentials(short_password, CredentialUse::kRegister).status(),
                "8 characters");
  EXPECT_TRUE(DecodeCredentials(short_password, CredentialUse::kLogin).ok());
  ExpectInvalid(
      DecodeCredentials(ToJson(Credentials{"alice", std::string(1025, 'p')}), CredentialUse::kLogin)
          .status(),
      "too long");
  ExpectInvalid(
      DecodeCredentials(ToJson(Credentials{"Alice!", "long enough"}), CredentialUse::kLogin)
          .status(),
      "user name");
  ExpectInvalid(DecodeCredentials(Json{{"username", "alice"}}, CredentialUse::kLogin).status(),
                "'password' is missing");
  ExpectInvalid(
      DecodeCredentials(Json{{"username", 5}, {"password", "long enough"}}, CredentialUse::kLogin)
          .status(),
      "'username' must be a string");
}

TEST(WireJsonTest, HeartbeatRoundTrips) {
  auto id = DecodeHeartbeat(HeartbeatJson(kPeerId));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, kPeerId);
  ExpectInvalid(DecodeHeartbeat(Json::object()).status(), "'peer_id' is missing");
  ExpectInvalid(DecodeHeartbeat(HeartbeatJson("0123456789ABCDEF0123456789ABCDEF")).status(),
                "32 lower-case");
}

TEST(WireJsonTest, LeaseLoginTokenRegisteredRoundTrip) {
  auto lease = DecodePeerLease(ToJson(PeerLease{kPeerId, 10}));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->peer_id, kPeerId);
  EXPECT_EQ(lease->heartbeat_seconds, 10);
  ExpectInvalid(DecodePeerLease(ToJson(PeerLease{kPeerId, 0})).status(), "'heartbeat_seconds'");
  ExpectInvalid(DecodePeerLease(ToJson(PeerLease{kPeerId, kMaxHeartbeatSeconds + 1})).status(),
                "'heartbeat_seconds'");
  // An id the directory cannot have made is a clear error, not a lease.
  ExpectInvalid(DecodePeerLease(ToJson(PeerLease{"abc", 10})).status(),
                "'peer_id' must be 32 lower-case hex digits");
  ExpectInvalid(DecodePeerLease(ToJson(PeerLease{std::string(64, 'b'), 10})).status(),
                "'peer_id' must be 32");

  auto login = DecodeLoginInfo(ToJson(LoginInfo{std::string(64, 'f'), "alice", 1790000000}));
  ASSERT_TRUE(login.ok()) << login.status().ToString();
  EXPECT_EQ(login->token, std::string(64, 'f'));
  EXPECT_EQ(login->username, "alice");
  EXPECT_EQ(login->expires_at, 1790000000);
  ExpectInvalid(DecodeLoginInfo(ToJson(LoginInfo{"a b", "alice", 1})).status(), "token");
  ExpectInvalid(
      DecodeLoginInfo(With(ToJson(LoginInfo{"t", "alice", 1}), "expires_at", "")).status(),
      "'expires_at' is missing");

  auto token = DecodeTokenInfo(ToJson(TokenInfo{"bob", 42}));
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->username, "bob");
  EXPECT_EQ(token->expires_at, 42);

  auto name = DecodeRegistered(RegisteredJson("alice"));
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "alice");
  ExpectInvalid(DecodeRegistered(RegisteredJson("")).status(), "user name");
}

TEST(WireJsonTest, TicketBodiesAndAnswersRoundTrip) {
  const std::string ticket(64, 'e');
  Json request = ToJson(TicketRequest{kPeerId});
  EXPECT_EQ(request.dump(), R"({"peer_id":")" + kPeerId + R"("})");
  auto back_request = DecodeTicketRequest(request);
  ASSERT_TRUE(back_request.ok()) << back_request.status().ToString();
  EXPECT_EQ(back_request->peer_id, kPeerId);

  Json issued = ToJson(Ticket{ticket, kPeerId, 1790000300});
  EXPECT_EQ(issued.dump(), R"({"expires_at":1790000300,"peer_id":")" + kPeerId + R"(","ticket":")" +
                               ticket + R"("})");
  auto back_ticket = DecodeTicket(issued);
  ASSERT_TRUE(back_ticket.ok()) << back_ticket.status().ToString();
  EXPECT_EQ(back_ticket->ticket, ticket);
  EXPECT_EQ(back_ticket->peer_id, kPeerId);
  EXPECT_EQ(back_ticket->expires_at, 1790000300);

  Json check = ToJson(TicketCheck{kPeerId, ticket});
  auto back_check = DecodeTicketCheck(check);
  ASSERT_TRUE(back_check.ok()) << back_check.status().ToString();
  EXPECT_EQ(back_check->peer_id, kPeerId);
  EXPECT_EQ(back_check->ticket, ticket);

  Json holder = ToJson(TicketHolder{"bob", 1790000300});
  EXPECT_EQ(holder.dump(), R"({"expires_at":1790000300,"username":"bob"})");
  auto back_holder = DecodeTicketHolder(holder);
  ASSERT_TRUE(back_holder.ok()) << back_holder.status().ToString();
  EXPECT_EQ(back_holder->username, "bob");
  EXPECT_EQ(back_holder->expires_at, 1790000300);
}

// Tickets and peer ids must be exactly as the directory makes them; a ticket
// is never lowered into one.
TEST(WireJsonTest, TicketBodiesAndAnswersReject) {
  const std::string ticket(64, 'e');
  Json check = ToJson(TicketCheck{kPeerId, ticket});
  ExpectInvalid(DecodeTicketCheck(Json::array()).status(), "the body must be a JSON object");
  ExpectInvalid(DecodeTicketCheck(With(check, "ticket", "")).status(), "'ticket' is missing");
  ExpectInvalid(DecodeTicketCheck(With(check, "ticket", "null")).status(), "'ticket' is missing");
  ExpectInvalid(DecodeTicketCheck(With(check, "ticket", "7")).status(),
                "'ticket' must be a string");
  ExpectInvalid(
      DecodeTicketCheck(With(check, "ticket", Json(std::string(64, 'E')).dump())).status(),
      "'ticket' must be 64 lower-case hex digits");
  ExpectInvalid(
      DecodeTicketCheck(With(check, "ticket", Json(std::string(63, 'e')).dump())).status(),
      "'ticket' must be 64 lower-case hex digits");
  ExpectInvalid(DecodeTicketCheck(With(check, "peer_id", "")).status(), "'peer_id' is missing");
  ExpectInvalid(DecodeTicketCheck(With(check, "peer_id", "\"ABC\"")).status(),
                "'peer_id' must be 32 lower-case hex digits");

  ExpectInvalid(DecodeTicketRequest(Json::object()).status(), "'peer_id' is missing");
  ExpectInvalid(DecodeTicketRequest(Json(kPeerId)).status(), "the body must be a JSON object");

  Json issued = ToJson(Ticket{ticket, kPeerId, 1});
  ExpectInvalid(DecodeTicket(With(issued, "ticket", "\"short\"")).status(), "'ticket' must be 64");
  ExpectInvalid(DecodeTicket(With(issued, "expires_at", "-1")).status(), "'expires_at' must be");
  ExpectInvalid(DecodeTicket(With(issued, "peer_id", "")).status(), "'peer_id' is missing");

  Json holder = ToJson(TicketHolder{"bob", 1});
  ExpectInvalid(DecodeTicketHolder(With(holder, "username", "\"Bad Name\"")).status(), "user name");
  ExpectInvalid(DecodeTicketHolder(With(holder, "expires_at", "")).status(),
                "'expires_at' is missing");
}

TEST(WireJsonTest, PeerInfosRoundTripAndRejects) {
  PeerInfo p{kPeerId, "alice", "203.0.113.7:7443", kCert, 42, 1790000000};
  Json list = ToJson(std::vector<PeerInfo>{p});
  EXPECT_EQ(list[0]["files"], 42);
  auto back = DecodePeerInfos(list, TestAddressRule);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].peer_id, kPeerId);
  EXPECT_EQ((*back)[0].username, "alice");
  EXPECT_EQ((*back)[0].address, p.address);
  EXPECT_EQ((*back)[0].cert_sha256, kCert);
  EXPECT_EQ((*back)[0].files, 42);
  EXPECT_EQ((*back)[0].last_seen, 1790000000);

  const Json good = list[0];
  auto one = [](const Json& peer) {
    return DecodePeerInfos(Json::array({peer}), TestAddressRule).status();
  };
  ExpectInvalid(DecodePeerInfos(Json::object(), TestAddressRule).status(), "JSON array");
  ExpectInvalid(one(Json(nullptr)), "peers[0] must be an object");
  ExpectInvalid(one(With(good, "peer_id", "\"../../admin\"")), "peers[0]: 'peer_id' must be 32");
  ExpectInvalid(one(With(good, "peer_id", "\"" + std::string(32, 'B') + "\"")), "lower-case");
  ExpectInvalid(one(With(good, "cert_sha256", "\"abc\"")), "peers[0]: 'cert_sha256' must be 64");
  ExpectInvalid(one(With(good, "address", "\"no-port\"")), "peers[0]: 'address' must be host:port");
  ExpectInvalid(one(With(good, "username", "\"\"")), "peers[0]: '' is not a valid user name");
  ExpectInvalid(one(With(good, "files", "-1")), "peers[0]: 'files' must be a whole number");
  ExpectInvalid(one(With(good, "last_seen", "")), "peers[0]: 'last_seen' is missing");
}

TEST(WireJsonTest, SearchHitsRoundTripAndRejects) {
  SearchHit hit{"song.ogg", 5301234, kSha, {{kPeerId, "[2001:db8::1]:7443", kCert}}};
  Json list = ToJson(std::vector<SearchHit>{hit});
  auto back = DecodeSearchHits(list, TestAddressRule);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].name, "song.ogg");
  EXPECT_EQ((*back)[0].size, 5301234);
  ASSERT_EQ((*back)[0].peers.size(), 1u);
  EXPECT_EQ((*back)[0].peers[0].peer_id, kPeerId);
  EXPECT_EQ((*back)[0].peers[0].address, "[2001:db8::1]:7443");
  EXPECT_EQ(ToJson(*back), list);

  const Json good = list[0];
  auto one = [](const Json& h) {
    return DecodeSearchHits(Json::array({h}), TestAddressRule).status();
  };
  for (const char* name : {"", ".", "..", "a/b", "bell\x07"}) {
    EXPECT_EQ(one(With(good, "name", Json(name).dump())).code(), Code::kInvalidArgument) << name;
  }
  ExpectInvalid(one(With(good, "peers", "{}")), "hits[0]: 'peers' must be an array");
  ExpectInvalid(one(With(good, "peers", "")), "hits[0]: 'peers' is missing");
  Json bad_peer = good;
  bad_peer["peers"][0]["peer_id"] = "ABC";
  ExpectInvalid(one(bad_peer), "hits[0].peers[0]: 'peer_id' must be 32 lower-case hex digits");
}

TEST(WireJsonTest, SharedFileListRoundTrips) {
  std::vector<SharedFile> files = {{"a", 1, kSha, 2, ""}, {"b/c", 3, kSha, 4, ""}};
  auto back = DecodeSharedFiles(ToJson(files));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].path, "b/c");
  ExpectInvalid(DecodeSharedFiles(Json::array({With(FileJson(), "sha256", "")})).status(),
                "files[0]: 'sha256' is missing");
}

}  // namespace
}  // namespace ferry::dirapi
