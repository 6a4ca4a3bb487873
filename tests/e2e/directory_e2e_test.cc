// The directory end to end: real `ferry directory` processes over SQLite and
// over a real PostgreSQL, driven through their REST API on loopback.
#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/directory_harness.h"
#include "tests/support/postgres_cluster.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Hex(char c, size_t n = 64) { return std::string(n, c); }

json FileJson(const std::string& path, char hash, int64_t size = 100) {
  return json{{"path", path}, {"size", size}, {"sha256", Hex(hash)}, {"mtime", 1700000000}};
}

std::string AnnounceBody(const std::string& address, const std::vector<json>& files) {
  return json{{"address", address}, {"cert_sha256", Hex('e')}, {"files", files}}.dump();
}

std::string TempDir(const std::string& what) {
  std::string pattern = (fs::temp_directory_path() / ("ferry-dir-" + what + "-XXXXXX")).string();
  EXPECT_NE(mkdtemp(pattern.data()), nullptr);
  return pattern;
}

enum class StoreKind { kSqlite, kPostgres };

class DirectoryE2eTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    dir_ = TempDir("e2e");
    if (GetParam() == StoreKind::kPostgres) {
      auto cluster = testing::PostgresCluster::Start();
      ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
      cluster_ = std::move(cluster).value();
    }
  }
  void TearDown() override {
    for (auto& d : directories_) d->Stop(SIGKILL);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The --db flag every instance of this test shares.
  std::string Db() const {
    return GetParam() == StoreKind::kPostgres ? cluster_->url() : "sqlite:" + dir_ + "/dir.db";
  }

  // Starts one more instance over the test's store (plain HTTP).
  DirectoryProcess& StartDirectory(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--plain-http", "--db", Db()});
    directories_.push_back(std::make_unique<DirectoryProcess>());
    directories_.back()->Start(dir_ + "/data" + std::to_string(directories_.size()), extra);
    return *directories_.back();
  }

  // Registers `user` and returns a token.
  std::string Login(int port, const std::string& user) {
    json creds{{"username", user}, {"password", user + "-password"}};
    HttpReply reg = Call(port, "POST", "/api/v1/register", creds.dump());
    EXPECT_TRUE(reg.status == 201 || reg.status == 409) << reg.raw;
    HttpReply login = Call(port, "POST", "/api/v1/login", creds.dump());
    EXPECT_EQ(login.status, 200) << login.raw;
    return login.body.value("token", "");
  }

  std::string Announce(int port, const std::string& token, const std::vector<json>& files,
                       const std::string& address = "127.0.0.1:9000") {
    HttpReply r = Call(port, "POST", "/api/v1/announce", AnnounceBody(address, files), token);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body.value("peer_id", "");
  }

  std::set<std::string> OnlinePeerIds(int port, const std::string& token) {
    HttpReply r = Call(port, "GET", "/api/v1/peers", "", token);
    EXPECT_EQ(r.status, 200) << r.raw;
    std::set<std::string> ids;
    if (r.body.is_array()) {
      for (const auto& p : r.body) ids.insert(p.value("peer_id", ""));
    }
    return ids;
  }

  std::string dir_;
  std::unique_ptr<testing::PostgresCluster> cluster_;
  std::vector<std::unique_ptr<DirectoryProcess>> directories_;
};

TEST_P(DirectoryE2eTest, AccountsAndTokens) {
  int port = StartDirectory().port();
  json creds{{"username", "alice"}, {"password", "alice-password"}};
  EXPECT_EQ(Call(port, "POST", "/api/v1/register", creds.dump()).status, 201);
  HttpReply taken = Call(port, "POST", "/api/v1/register", creds.dump());
  EXPECT_EQ(taken.status, 409);
  EXPECT_NE(taken.body.value("error", "").find("taken"), std::string::npos) << taken.raw;

  HttpReply bad_name = Call(port, "POST", "/api/v1/register",
                            json{{"username", "../x"}, {"password", "alice-password"}}.dump());
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_NE(bad_name.body.value("error", "").find("user name"), std::string::npos);
  EXPECT_EQ(Call(port, "POST", "/api/v1/register", "{\"username\":").status, 400);
  EXPECT_EQ(Call(port, "POST", "/api/v1/register", "[]").status, 400);

  HttpReply wrong = Call(port, "POST", "/api/v1/login",
                         json{{"username", "alice"}, {"password", "wrong-password"}}.dump());
  EXPECT_EQ(wrong.status, 401);
  HttpReply login = Call(port, "POST", "/api/v1/login", creds.dump());
  ASSERT_EQ(login.status, 200) << login.raw;
  std::string token = login.body["token"];
  EXPECT_EQ(token.size(), 64u);
  EXPECT_GT(login.body["expires_at"].get<int64_t>(), time(nullptr));

  HttpReply who = Call(port, "GET", "/api/v1/verify", "", token);
  EXPECT_EQ(who.status, 200);
  EXPECT_EQ(who.body.value("username", ""), "alice");
  HttpReply nobody = Call(port, "GET", "/api/v1/verify");
  EXPECT_EQ(nobody.status, 401);
  EXPECT_NE(nobody.headers.find("WWW-Authenticate"), nobody.headers.end());
  EXPECT_EQ(Call(port, "GET", "/api/v1/verify", "", Hex('0')).status, 401);

  EXPECT_EQ(Call(port, "POST", "/api/v1/logout", "", token).status, 200);
  EXPECT_EQ(Call(port, "GET", "/api/v1/verify", "", token).status, 401);
  EXPECT_EQ(Call(port, "POST", "/api/v1/logout", "", token).status, 401);
}

TEST_P(DirectoryE2eTest, RepeatedWrongPasswordsAreSlowedDown) {
  int port = StartDirectory().port();
  Login(port, "alice");
  json wrong{{"username", "alice"}, {"password", "not-the-password"}};
  HttpReply r;
  for (int i = 0; i < 6 && r.status != 429; ++i) {
    r = Call(port, "POST", "/api/v1/login", wrong.dump());
  }
  ASSERT_EQ(r.status, 429) << r.raw;
  ASSERT_NE(r.headers.find("Retry-After"), r.headers.end());
  EXPECT_GE(std::stoi(r.headers.find("Retry-After")->second), 1);
  // Even the right password waits now.
  HttpReply right = Call(port, "POST", "/api/v1/login",
                         json{{"username", "alice"}, {"password", "alice-password"}}.dump());
  EXPECT_EQ(right.status, 429);
}

TEST_P(DirectoryE2eTest, AnnounceSearchAndListPeers) {
  int port = StartDirectory().port();
  std::string alice = Login(port, "alice");
  std::string bob = Login(port, "bob");
  std::string a = Announce(port, alice,
                           {FileJson("music/Blue Song.ogg", '1'), FileJson("docs/report.pdf", '2'),
                            FileJson("100%_done.txt", '3')});
  std::string b = Announce(port, bob, {FileJson("mirror/Blue Song.ogg", '1')}, "[::1]:9001");
  ASSERT_EQ(a.size(), 32u);
  ASSERT_NE(a, b);

  HttpReply hits = Call(port, "GET", "/api/v1/search?q=blue%20SONG", "", alice);
  ASSERT_EQ(hits.status, 200) << hits.raw;
  ASSERT_EQ(hits.body.size(), 1u) << hits.raw;
  EXPECT_EQ(hits.body[0]["name"], "Blue Song.ogg");
  EXPECT_EQ(hits.body[0]["sha256"], Hex('1'));
  EXPECT_EQ(hits.body[0]["peers"].size(), 2u);
  std::set<std::string> addresses;
  for (const auto& p : hits.body[0]["peers"]) addresses.insert(p["address"]);
  EXPECT_EQ(addresses, (std::set<std::string>{"127.0.0.1:9000", "[::1]:9001"}));

  // Wildcards are literal; short queries work; sha256 finds content.
  HttpReply percent = Call(port, "GET", "/api/v1/search?q=%25_", "", alice);
  ASSERT_EQ(percent.body.size(), 1u) << percent.raw;
  EXPECT_EQ(percent.body[0]["name"], "100%_done.txt");
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=o", "", alice).body.size(), 3u);
  HttpReply by_hash = Call(port, "GET", "/api/v1/search?sha256=" + Hex('2'), "", bob);
  ASSERT_EQ(by_hash.body.size(), 1u);
  EXPECT_EQ(by_hash.body[0]["name"], "report.pdf");
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=nothing-like-it", "", alice).body.size(), 0u);
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=o&limit=2", "", alice).body.size(), 2u);
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=o&limit=2&offset=2", "", alice).body.size(), 1u);

  HttpReply peers = Call(port, "GET", "/api/v1/peers", "", bob);
  ASSERT_EQ(peers.status, 200);
  ASSERT_EQ(peers.body.size(), 2u);
  for (const auto& p : peers.body) {
    if (p["peer_id"] == a) {
      EXPECT_EQ(p["username"], "alice");
      EXPECT_EQ(p["files"], 3);
      EXPECT_EQ(p["cert_sha256"], Hex('e'));
    }
  }
  HttpReply files = Call(port, "GET", "/api/v1/peers/" + a + "/files", "", bob);
  ASSERT_EQ(files.status, 200);
  ASSERT_EQ(files.body.size(), 3u);
  EXPECT_EQ(files.body[0]["path"], "100%_done.txt");  // ordered by path
  EXPECT_EQ(files.body[1]["path"], "docs/report.pdf");

  // A later announce sends only what changed.
  json delta{{"peer_id", a},
             {"added", {FileJson("new/Green Song.ogg", '4')}},
             {"removed", {"docs/report.pdf"}}};
  ASSERT_EQ(Call(port, "POST", "/api/v1/announce", delta.dump(), alice).status, 200);
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=report", "", alice).body.size(), 0u);
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=green", "", alice).body.size(), 1u);

  // Another user's peer is not yours to change.
  EXPECT_EQ(Call(port, "POST", "/api/v1/announce", delta.dump(), bob).status, 403);
  EXPECT_EQ(Call(port, "POST", "/api/v1/heartbeat", json{{"peer_id", a}}.dump(), bob).status, 403);
  EXPECT_EQ(Call(port, "DELETE", "/api/v1/peers/" + a, "", bob).status, 403);

  // A clean stop removes the peer at once; a logout removes the session's peers.
  EXPECT_EQ(Call(port, "DELETE", "/api/v1/peers/" + b, "", bob).status, 200);
  EXPECT_EQ(OnlinePeerIds(port, alice), std::set<std::string>{a});
  EXPECT_EQ(Call(port, "POST", "/api/v1/logout", "", alice).status, 200);
  EXPECT_TRUE(OnlinePeerIds(port, bob).empty());
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=song", "", bob).body.size(), 0u);
}

TEST_P(DirectoryE2eTest, BadInputGetsClearErrors) {
  int port = StartDirectory({"--max-body", "65536"}).port();
  std::string token = Login(port, "alice");
  auto expect_error = [&](const HttpReply& r, int status, const std::string& fragment) {
    EXPECT_EQ(r.status, status) << r.raw;
    ASSERT_TRUE(r.body.is_object()) << r.raw;
    EXPECT_NE(r.body.value("error", "").find(fragment), std::string::npos) << r.raw;
  };
  expect_error(Call(port, "POST", "/api/v1/announce", "{\"address\":", token), 400, "JSON");
  expect_error(Call(port, "POST", "/api/v1/announce",
                    AnnounceBody("not an address", {FileJson("a", '1')}), token),
               400, "address");
  expect_error(
      Call(port, "POST", "/api/v1/announce",
           AnnounceBody(
               "h:1",
               {json{{"path", "../etc/passwd"}, {"size", 1}, {"sha256", Hex('1')}, {"mtime", 1}}}),
           token),
      400, "'..'");
  expect_error(
      Call(port, "POST", "/api/v1/announce",
           AnnounceBody("h:1", {json{{"path", "a"}, {"size", 1}, {"sha256", "xyz"}, {"mtime", 1}}}),
           token),
      400, "sha256");
  expect_error(Call(port, "POST", "/api/v1/announce", AnnounceBody("h:1", {}), ""), 401, "token");
  expect_error(Call(port, "POST", "/api/v1/announce", std::string(70000, ' '), token), 413,
               "larger than 65536 bytes");
  expect_error(Call(port, "POST", "/api/v1/login", std::string(5000, ' ')), 413,
               "larger than 4096 bytes");
  expect_error(
      Call(port, "POST", "/api/v1/announce", std::string(40, '[') + std::string(40, ']'), token),
      400, "nests deeper than 32 levels");
  expect_error(Call(port, "POST", "/api/v1/heartbeat", R"({"peer_id":"a","peer_id":"b"})", token),
               400, "the key 'peer_id' appears twice");
  expect_error(Call(port, "POST", "/api/v1/heartbeat", "{\"peer_id\":\"abc\"}", token), 400,
               "peer_id");
  expect_error(
      Call(port, "POST", "/api/v1/heartbeat", json{{"peer_id", Hex('a', 32)}}.dump(), token), 404,
      "announce again");
  expect_error(Call(port, "GET", "/api/v1/search?q=x&limit=-4", "", token), 400, "limit");
  expect_error(Call(port, "GET", "/api/v1/search", "", token), 400, "'q' or 'sha256'");
  expect_error(Call(port, "GET", "/api/v1/search?sha256=12", "", token), 400, "64 hex");
  expect_error(Call(port, "GET", "/api/v1/peers/nothex/files", "", token), 400, "peer id");
  expect_error(Call(port, "GET", "/api/v1/peers/" + Hex('a', 32) + "/files", "", token), 404,
               "not online");
  expect_error(Call(port, "GET", "/api/v2/peers", "", token), 404, "no route");
  HttpReply wrong_method = Call(port, "GET", "/api/v1/announce", "", token);
  expect_error(wrong_method, 405, "POST");
  ASSERT_NE(wrong_method.headers.find("Allow"), wrong_method.headers.end());
  EXPECT_EQ(wrong_method.headers.find("Allow")->second, "POST");
  expect_error(Call(port, "PUT", "/api/v1/peers", "{}", token), 405, "GET");

  // After all that the directory still answers, and its store is intact.
  EXPECT_EQ(Call(port, "GET", "/healthz").status, 200);
  std::string peer = Announce(port, token, {FileJson("ok.txt", '1')});
  EXPECT_EQ(OnlinePeerIds(port, token), std::set<std::string>{peer});
}

TEST_P(DirectoryE2eTest, SilentPeersExpire) {
  int port = StartDirectory({"--heartbeat-seconds", "0.4"}).port();
  std::string token = Login(port, "alice");
  std::string quiet = Announce(port, token, {FileJson("quiet.txt", '1')});
  std::string chatty = Announce(port, token, {FileJson("chatty.txt", '2')});
  // 3 missed heartbeats at 0.4 s: 1.2 s. Keep one peer beating for 2.4 s.
  for (int i = 0; i < 12; ++i) {
    HttpReply hb = Call(port, "POST", "/api/v1/heartbeat", json{{"peer_id", chatty}}.dump(), token);
    ASSERT_EQ(hb.status, 200) << hb.raw;
    EXPECT_EQ(hb.body["heartbeat_seconds"], 1);  // rounded up to whole seconds
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(OnlinePeerIds(port, token), std::set<std::string>{chatty});
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=quiet", "", token).body.size(), 0u);
  EXPECT_EQ(Call(port, "GET", "/api/v1/search?q=chatty", "", token).body.size(), 1u);
  HttpReply late = Call(port, "POST", "/api/v1/heartbeat", json{{"peer_id", quiet}}.dump(), token);
  EXPECT_EQ(late.status, 404) << late.raw;
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  EXPECT_TRUE(OnlinePeerIds(port, token).empty());
  // Announcing again brings it back under a new id.
  std::string again = Announce(port, token, {FileJson("quiet.txt", '1')});
  EXPECT_EQ(OnlinePeerIds(port, token), std::set<std::string>{again});
}

TEST_P(DirectoryE2eTest, ConcurrentAnnouncesAndSearches) {
  // Its 12 users all register from 127.0.0.1.
  int port = StartDirectory({"--register-per-minute", "100"}).port();
  constexpr int kClients = 12;
  constexpr int kPeersEach = 5;
  std::vector<std::string> tokens;
  for (int c = 0; c < kClients; ++c) tokens.push_back(Login(port, "user" + std::to_string(c)));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      for (int p = 0; p < kPeersEach; ++p) {
        std::vector<json> files;
        for (int f = 0; f < 20; ++f) {
          files.push_back(
              FileJson("c" + std::to_string(c) + "/shared-" + std::to_string(f) + ".bin",
                       static_cast<char>('a' + f % 6), f));
        }
        HttpReply r =
            Call(port, "POST", "/api/v1/announce",
                 AnnounceBody("127.0.0.1:" + std::to_string(10000 + c), files), tokens[c]);
        if (r.status != 200) failures++;
        HttpReply s = Call(port, "GET", "/api/v1/search?q=shared-1&limit=1000", "", tokens[c]);
        if (s.status != 200 || !s.body.is_array()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(OnlinePeerIds(port, tokens[0]).size(), size_t{kClients * kPeersEach});
  // shared-1.bin and shared-10..19.bin: 11 names; each size/hash pair is one hit.
  HttpReply all = Call(port, "GET", "/api/v1/search?q=shared-1&limit=1000", "", tokens[0]);
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body.size(), 11u) << all.raw.substr(0, 500);
  for (const auto& hit : all.body) {
    EXPECT_EQ(hit["peers"].size(), 50u) << hit.dump();  // 60 peers, capped at 50
  }
  // Asked again at once, the same answer comes from the answer cache.
  HttpReply again = Call(port, "GET", "/api/v1/search?q=shared-1&limit=1000", "", tokens[1]);
  EXPECT_EQ(again.raw, all.raw);
  std::string metrics = Call(port, "GET", "/metrics").raw;
  EXPECT_EQ(metrics.find("ferry_directory_search_cache_total{result=\"hit\"} 0\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("ferry_directory_search_cache_total{result=\"miss\"}"), std::string::npos);
  EXPECT_NE(metrics.find("\nferry_directory_index_upkeep_pending "), std::string::npos) << metrics;
  EXPECT_NE(
      metrics.find("ferry_directory_requests_total{route=\"/api/v1/announce\",status=\"200\"} " +
                   std::to_string(kClients * kPeersEach)),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("ferry_directory_request_seconds_bucket"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Stores, DirectoryE2eTest,
                         ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         [](const auto& param_info) {
                           return param_info.param == StoreKind::kSqlite ? "Sqlite" : "Postgres";
                         });

// Several instances over one PostgreSQL database behave as one directory.
class DirectoryInstancesTest : public DirectoryE2eTest {};

TEST_P(DirectoryInstancesTest, TwoInstancesShareOnePostgres) {
  int a = StartDirectory({"--heartbeat-seconds", "0.5"}).port();
  int b = StartDirectory({"--heartbeat-seconds", "0.5"}).port();
  std::string token = Login(a, "alice");  // registered and logged in through A
  EXPECT_EQ(Call(b, "GET", "/api/v1/verify", "", token).status, 200);
  std::string peer = Announce(a, token, {FileJson("shared/thing.iso", '7')});
  HttpReply found = Call(b, "GET", "/api/v1/search?q=THING", "", token);
  ASSERT_EQ(found.body.size(), 1u) << found.raw;
  EXPECT_EQ(found.body[0]["peers"][0]["peer_id"], peer);
  // B may answer that search from memory for a flush interval (125 ms here);
  // a peer announced through A since shows in B's answers after it.
  std::string second = Announce(a, token, {FileJson("other/thing.iso", '8')});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpReply both = Call(b, "GET", "/api/v1/search?q=THING", "", token);
  ASSERT_EQ(both.body.size(), 2u) << both.raw;
  EXPECT_EQ(both.body[1]["peers"][0]["peer_id"], second);
  ASSERT_EQ(Call(a, "DELETE", "/api/v1/peers/" + second, "", token).status, 200);

  // Heartbeats through B alone keep it alive past the 1.5 s expiry...
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Call(b, "POST", "/api/v1/heartbeat", json{{"peer_id", peer}}.dump(), token).status,
              200);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(OnlinePeerIds(a, token), std::set<std::string>{peer});
  // ...and when they stop, it expires on both.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  EXPECT_TRUE(OnlinePeerIds(a, token).empty());
  EXPECT_TRUE(OnlinePeerIds(b, token).empty());

  // Logging out through one removes the session's peers from both.
  std::string again = Announce(b, token, {FileJson("shared/thing.iso", '7')});
  EXPECT_EQ(OnlinePeerIds(a, token), std::set<std::string>{again});
  std::string other = Login(b, "bob");
  EXPECT_EQ(Call(a, "POST", "/api/v1/logout", "", token).status, 200);
  EXPECT_EQ(Call(b, "GET", "/api/v1/verify", "", token).status, 401);
  EXPECT_TRUE(OnlinePeerIds(b, other).empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, DirectoryInstancesTest, ::testing::Values(StoreKind::kPostgres),
                         [](const auto&) { return std::string("Postgres"); });

TEST(DirectoryTlsTest, HttpsByDefaultWithItsOwnCertificate) {
  std::string dir = TempDir("tls");
  DirectoryProcess directory;
  directory.Start(dir + "/data", {});
  ASSERT_EQ(directory.url().substr(0, 8), "https://") << directory.url();
  std::string cert = dir + "/data/tls/directory.crt";
  ASSERT_TRUE(fs::exists(cert));
  EXPECT_NE(directory.log().find("fingerprint"), std::string::npos);

  httplib::SSLClient client("127.0.0.1", directory.port());
  client.set_ca_cert_path(cert.c_str());
  client.enable_server_certificate_verification(true);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto reg = client.Post("/api/v1/register",
                         json{{"username", "alice"}, {"password", "alice-password"}}.dump(),
                         "application/json");
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->status, 201);

  // Plain HTTP to the TLS port gets no answer; a client with another CA refuses.
  EXPECT_EQ(Call(directory.port(), "GET", "/healthz").status, 0);
  httplib::SSLClient untrusting("127.0.0.1", directory.port());
  untrusting.set_ca_cert_path("/nonexistent-ca.pem");
  untrusting.enable_server_certificate_verification(true);
  EXPECT_FALSE(untrusting.Get("/healthz"));

  directory.Stop(SIGTERM);
  EXPECT_NE(directory.log().find("ferry directory stopped"), std::string::npos) << directory.log();
  fs::remove_all(dir);
}

TEST(DirectoryTlsTest, UnusableDatabaseIsAClearError) {
  std::string dir = TempDir("db");
  RunResult r =
      RunFerry({"directory", "--listen", "127.0.0.1:0", "--data", dir, "--db", "mysql://nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("expected sqlite:PATH or postgresql://"), std::string::npos) << r.err;
  RunResult pg = RunFerry({"directory", "--listen", "127.0.0.1:0", "--data", dir, "--db",
                           "postgresql://ferry:secret-pw@127.0.0.1:1/ferry"});
  EXPECT_NE(pg.exit_code, 0);
  EXPECT_NE(pg.err.find("cannot reach"), std::string::npos) << pg.err;
  EXPECT_EQ(pg.err.find("secret-pw"), std::string::npos) << pg.err;
  fs::remove_all(dir);
}

TEST(DirectoryTlsTest, OutOfRangeLoopsAndThreadsAreAClearError) {
  std::string dir = TempDir("tuning");
  for (const auto& [flag, value, message] :
       {std::tuple{"--loops", "-1", "--loops must be from 0 (automatic) to 1024"},
        {"--loops", "2000", "--loops must be from 0 (automatic) to 1024"},
        {"--threads", "0", "--threads must be from 1 to 4096"}}) {
    RunResult r = RunFerry({"directory", "--listen", "127.0.0.1:0", "--data", dir, flag, value});
    EXPECT_NE(r.exit_code, 0) << flag << " " << value;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ferry::e2e
