#include "directory/directory_http.h"

#include <httplib.h>  // the client of the bound server
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/secrets.h"
#include "directory/sqlite_directory_store.h"
#include "directory_api/wire_rules.h"

namespace ferry {
namespace {

class DirectoryHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    char pattern[] = "/tmp/ferry-dirhttp-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto store = OpenSqliteDirectoryStore(dir_ + "/directory.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    service_ = std::make_unique<DirectoryService>(std::move(store).value(), DirectoryOptions{});
  }
  void TearDown() override {
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  static HttpRequest Request(const std::string& method, const std::string& path,
                             const std::string& token = "") {
    HttpRequest req = HttpRequest::For(method, path);
    if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
    return req;
  }
  static HttpRequest Search(const std::string& text, const std::string& token) {
    HttpRequest req = Request("GET", "/api/v1/search", token);
    req.query.emplace("q", text);
    return req;
  }
  // Whether the server answers `req` on the loop (a refusal, or a route
  // answered there), at least as far as it can without waiting.
  static bool AnsweredOnLoop(const DirectoryHttpServer& server, const HttpRequest& req) {
    RouteMatch match = server.routes().Match(req.method, req.path);
    return match.route == nullptr || match.route->answered_on_loop;
  }
  // Runs what the loop runs of `req`: true when that answers it, false when
  // the rest is left for a pool thread (which this does not run).
  static bool RunOnLoop(const DirectoryHttpServer& server, const HttpRequest& req,
                        HttpResponse& res) {
    RouteMatch match = server.routes().Match(req.method, req.path);
    return !server.routes().StartOnLoop(match, req, res);
  }
  std::string Login() {
    auto login = service_->Login({"alice", "alice-password"}, "127.0.0.1");
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    return login.ok() ? login->token : "";
  }

  std::string dir_;
  std::unique_ptr<DirectoryService> service_;
};

TEST_F(DirectoryHttpTest, OnlyReadsOfAStoreInThisProcessRunOnTheEventLoops) {
  DirectoryHttpOptions in_process;
  in_process.reads_answered_on_loop = true;
  auto sqlite = DirectoryHttpServer::Unbound(service_.get(), in_process);
  auto server = DirectoryHttpServer::Unbound(service_.get());  // a PostgreSQL store's
  const std::string peer = "/api/v1/peers/" + std::string(32, 'a');
  const std::string files = peer + "/files";

  // Searches and heartbeats start on the loop whatever the store (with a
  // database server, to answer from memory); /metrics needs no store.
  for (const auto& [method, path] : {std::pair{"GET", "/api/v1/search"},
                                     {"HEAD", "/api/v1/search"},
                                     {"POST", "/api/v1/heartbeat"},
                                     {"GET", "/metrics"}}) {
    EXPECT_TRUE(AnsweredOnLoop(*sqlite, Request(method, path))) << method << " " << path;
    EXPECT_TRUE(AnsweredOnLoop(*server, Request(method, path))) << method << " " << path;
  }
  // Other reads are on the loop only when the store is in this process.
  for (const auto& [method, path] : {std::pair{"GET", "/api/v1/verify"},
                                     {"GET", "/api/v1/peers"},
                                     {"GET", "/healthz"},
                                     {"GET", "/api/v1/sources"},
                                     {"POST", "/api/v1/tickets/check"},
                                     {"GET", files.c_str()}}) {
    EXPECT_TRUE(AnsweredOnLoop(*sqlite, Request(method, path))) << method << " " << path;
    EXPECT_FALSE(AnsweredOnLoop(*server, Request(method, path))) << method << " " << path;
  }

  // Password hashing and writes may wait, whatever the store.
  for (const auto& [method, path] : {std::pair{"POST", "/api/v1/register"},
                                     {"POST", "/api/v1/login"},
                                     {"POST", "/api/v1/logout"},
                                     {"POST", "/api/v1/announce"},
                                     {"POST", "/api/v1/tickets"},
                                     {"DELETE", peer.c_str()}}) {
    EXPECT_FALSE(AnsweredOnLoop(*sqlite, Request(method, path))) << method << " " << path;
    EXPECT_FALSE(AnsweredOnLoop(*server, Request(method, path))) << method << " " << path;
  }
  // An unknown route is a 404 whatever the store.
  EXPECT_TRUE(AnsweredOnLoop(*server, Request("GET", "/nowhere")));
}

// With a database server, an event loop answers from what the service holds
// in memory and hands everything else, untouched, to a thread.
TEST_F(DirectoryHttpTest, WithADatabaseServerTheLoopsAnswerFromMemoryAlone) {
  auto server = DirectoryHttpServer::Unbound(service_.get());  // a PostgreSQL store's
  ASSERT_TRUE(service_->Register({"alice", "alice-password"}).ok());
  const std::string announcer = Login();
  Announcement announce;
  announce.address = "127.0.0.1:9000";
  announce.cert_sha256 = std::string(64, 'a');
  announce.files = std::vector<SharedFile>{{"a/song.ogg", 3, std::string(64, 'b'), 1, ""}};
  auto peer = service_->Announce(announcer, announce);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  const std::string token = Login();  // a session this instance has not looked up yet

  auto declined = [&](const HttpRequest& req) {
    HttpResponse res;
    bool answered = RunOnLoop(*server, req, res);
    EXPECT_EQ(res.status, 200) << req.method << " " << req.path;
    EXPECT_TRUE(res.headers.empty()) << req.method << " " << req.path;
    EXPECT_TRUE(res.body.empty()) << res.body;
    return !answered;
  };
  auto on_loop = [&](const HttpRequest& req) {
    HttpResponse res;
    EXPECT_TRUE(RunOnLoop(*server, req, res)) << req.method << " " << req.path;
    return res;
  };

  // A search whose session or answer is not in memory goes to a thread; once
  // Handle() has answered it there, the loop answers the same search alike.
  EXPECT_TRUE(declined(Search("song", token)));
  HttpResponse first;
  server->Handle(Search("song", token), first);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("\"song.ogg\""), std::string::npos) << first.body;
  auto again = on_loop(Search("song", token));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_TRUE(declined(Search("other", token)));

  // A heartbeat of a peer not looked up yet goes to a thread, then no more.
  HttpRequest heartbeat = Request("POST", "/api/v1/heartbeat", announcer);
  heartbeat.body = R"({"peer_id": ")" + peer->peer_id + R"("})";
  EXPECT_TRUE(declined(heartbeat));
  HttpResponse handled;
  server->Handle(heartbeat, handled);
  ASSERT_EQ(handled.status, 200) << handled.body;
  auto beat = on_loop(heartbeat);
  EXPECT_EQ(beat.status, 200);
  EXPECT_NE(beat.body.find(peer->peer_id), std::string::npos) << beat.body;
  // Another user's session, cached, still may not heartbeat alice's peer.
  ASSERT_TRUE(service_->Register({"bob", "bob-password"}).ok());
  auto bob = service_->Login({"bob", "bob-password"}, "127.0.0.1");
  ASSERT_TRUE(bob.ok());
  ASSERT_TRUE(service_->Verify(bob->token).ok());  // which caches bob's session
  HttpRequest stolen = Request("POST", "/api/v1/heartbeat", bob->token);
  stolen.body = heartbeat.body;
  EXPECT_EQ(on_loop(stolen).status, 403);

  // Refusals and bad input need no store.
  EXPECT_EQ(on_loop(Search("song", "")).status, 401);
  EXPECT_EQ(on_loop(Request("GET", "/api/v1/search", token)).status, 400);
  HttpRequest garbled = Request("POST", "/api/v1/heartbeat", announcer);
  garbled.body = "{not json";
  EXPECT_EQ(on_loop(garbled).status, 400);
  EXPECT_EQ(on_loop(Request("GET", "/nowhere")).status, 404);
  EXPECT_EQ(on_loop(Request("PUT", "/api/v1/search")).status, 405);
  EXPECT_EQ(on_loop(Request("GET", "/metrics")).status, 200);

  // Everything else may wait for the database server.
  for (const auto& [method, path] : {std::pair{"POST", "/api/v1/register"},
                                     {"POST", "/api/v1/login"},
                                     {"POST", "/api/v1/announce"},
                                     {"GET", "/api/v1/verify"},
                                     {"GET", "/api/v1/peers"},
                                     {"GET", "/healthz"}}) {
    EXPECT_TRUE(declined(Request(method, path, token))) << method << " " << path;
  }

  // With SQLite in this process, the loop answers every read, cached or not.
  DirectoryHttpOptions in_process;
  in_process.reads_answered_on_loop = true;
  auto sqlite = DirectoryHttpServer::Unbound(service_.get(), in_process);
  HttpResponse read;
  EXPECT_TRUE(RunOnLoop(*sqlite, Search("ogg", Login()), read));
  EXPECT_EQ(read.status, 200);
  EXPECT_NE(read.body.find("\"song.ogg\""), std::string::npos) << read.body;
  HttpResponse registered;
  EXPECT_FALSE(RunOnLoop(*sqlite, Request("POST", "/api/v1/register"), registered));
}

TEST_F(DirectoryHttpTest, SourcesListTheOnlinePeersOfAContent) {
  auto server = DirectoryHttpServer::Unbound(service_.get());
  ASSERT_TRUE(service_->Register({"alice", "alice-password"}).ok());
  const std::string token = Login();
  Announcement announce;
  announce.address = "127.0.0.1:9000";
  announce.cert_sha256 = std::string(64, 'a');
  announce.files =
      std::vector<SharedFile>{{"a/song.ogg", 3, std::string(64, 'b'), 1, std::string(64, 'd')}};
  auto peer = service_->Announce(token, announce);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  auto sources = [&](const std::string& sha256, const std::string& with_token) {
    HttpRequest req = Request("GET", "/api/v1/sources", with_token);
    if (!sha256.empty()) req.query.emplace("sha256", sha256);
    HttpResponse res;
    server->Handle(req, res);
    return res;
  };

  HttpResponse found = sources(std::string(64, 'B'), token);
  ASSERT_EQ(found.status, 200) << found.body;
  auto list = nlohmann::json::parse(found.body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["peer_id"], peer->peer_id);
  EXPECT_EQ(list[0]["address"], "127.0.0.1:9000");
  EXPECT_EQ(list[0]["size"], 3);
  EXPECT_EQ(list[0]["chunk_root"], std::string(64, 'd'));
  EXPECT_EQ(sources(std::string(64, 'c'), token).body, "[]");
  EXPECT_EQ(sources("", token).status, 400);
  EXPECT_EQ(sources("xyz", token).status, 400);
  EXPECT_EQ(sources(std::string(64, 'b'), "").status, 401);
}

TEST_F(DirectoryHttpTest, TicketsAreIssuedToFetchersAndCheckedByTheServingPeer) {
  auto server = DirectoryHttpServer::Unbound(service_.get());
  ASSERT_TRUE(service_->Register({"alice", "alice-password"}).ok());
  ASSERT_TRUE(service_->Register({"bob", "bob-password"}).ok());
  const std::string alice = Login();
  auto bob_login = service_->Login({"bob", "bob-password"}, "127.0.0.1");
  ASSERT_TRUE(bob_login.ok());
  const std::string bob = bob_login->token;
  Announcement announce;
  announce.address = "127.0.0.1:9000";
  announce.cert_sha256 = std::string(64, 'a');
  announce.files = std::vector<SharedFile>{};
  auto peer = service_->Announce(alice, announce);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  auto post = [&](const std::string& path, const std::string& token, const std::string& body) {
    HttpRequest req = Request("POST", path, token);
    req.body = body;
    HttpResponse res;
    server->Handle(req, res);
    return res;
  };
  auto check_body = [&](const std::string& ticket) {
    return nlohmann::json{{"peer_id", peer->peer_id}, {"ticket", ticket}}.dump();
  };

  HttpResponse issued =
      post("/api/v1/tickets", bob, nlohmann::json{{"peer_id", peer->peer_id}}.dump());
  ASSERT_EQ(issued.status, 200) << issued.body;
  auto ticket = nlohmann::json::parse(issued.body);
  EXPECT_EQ(ticket["peer_id"], peer->peer_id);
  EXPECT_GT(ticket["expires_at"].get<int64_t>(), 0);
  const std::string t = ticket["ticket"];
  EXPECT_TRUE(dirapi::IsTicket(t)) << t;

  HttpResponse checked = post("/api/v1/tickets/check", alice, check_body(t));
  ASSERT_EQ(checked.status, 200) << checked.body;
  auto holder = nlohmann::json::parse(checked.body);
  EXPECT_EQ(holder["username"], "bob");
  EXPECT_EQ(holder["expires_at"], ticket["expires_at"]);

  // Refusals: the one 403 for every invalid ticket; a ticket as a token is 401.
  HttpResponse not_his = post("/api/v1/tickets/check", bob, check_body(t));
  EXPECT_EQ(not_his.status, 403);
  HttpResponse unknown = post("/api/v1/tickets/check", alice, check_body(std::string(64, '1')));
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(unknown.body, not_his.body);
  EXPECT_NE(unknown.body.find("not a valid ticket for this peer"), std::string::npos);
  EXPECT_EQ(post("/api/v1/tickets/check", alice, check_body(bob)).status, 403);
  HttpResponse as_token = post("/api/v1/tickets/check", t, check_body(t));
  EXPECT_EQ(as_token.status, 401);
  EXPECT_EQ(as_token.Header("WWW-Authenticate"), "Bearer");
  HttpResponse verify;
  server->Handle(Request("GET", "/api/v1/verify", t), verify);
  EXPECT_EQ(verify.status, 401);

  // Bodies are checked strictly; an offline peer gets no ticket.
  EXPECT_EQ(post("/api/v1/tickets", bob, "{}").status, 400);
  EXPECT_EQ(post("/api/v1/tickets", bob, R"({"peer_id": "ABC"})").status, 400);
  EXPECT_EQ(post("/api/v1/tickets/check", alice, check_body(std::string(64, 'E'))).status, 400);
  EXPECT_EQ(
      post("/api/v1/tickets", bob, nlohmann::json{{"peer_id", std::string(32, 'f')}}.dump()).status,
      404);
  EXPECT_EQ(post("/api/v1/tickets", "", nlohmann::json{{"peer_id", peer->peer_id}}.dump()).status,
            401);
  HttpResponse get;
  server->Handle(Request("GET", "/api/v1/tickets", bob), get);
  EXPECT_EQ(get.status, 405);
}

TEST_F(DirectoryHttpTest, RegisterAndLoginAreRateLimitedPerAddress) {
  DirectoryHttpOptions options;
  options.register_per_minute = 2;
  options.login_per_minute = 3;
  auto server = DirectoryHttpServer::Unbound(service_.get(), options);
  auto post = [&](const std::string& path, const std::string& body, const std::string& from) {
    HttpRequest req = Request("POST", path);
    req.body = body;
    req.remote_addr = from;
    HttpResponse res;
    server->Handle(req, res);
    return res;
  };
  auto credentials = [](const std::string& user) {
    return R"({"username":")" + user + R"(","password":")" + user + R"(-password"})";
  };
  EXPECT_EQ(post("/api/v1/register", credentials("alice"), "10.0.0.1").status, 201);
  EXPECT_EQ(post("/api/v1/register", "{not json", "10.0.0.1").status, 400);  // counts too
  HttpResponse refused = post("/api/v1/register", credentials("bob"), "10.0.0.1");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.Header("Retry-After"), "30");
  EXPECT_NE(refused.body.find("too many register requests from 10.0.0.1"), std::string::npos)
      << refused.body;
  EXPECT_EQ(post("/api/v1/register", credentials("bob"), "10.0.0.2").status, 201);

  // Logins have a bucket of their own.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(post("/api/v1/login", credentials("alice"), "10.0.0.1").status, 200) << i;
  }
  HttpResponse slow = post("/api/v1/login", credentials("alice"), "10.0.0.1");
  EXPECT_EQ(slow.status, 429) << slow.body;
  EXPECT_EQ(slow.Header("Retry-After"), "20");
  EXPECT_EQ(post("/api/v1/login", credentials("alice"), "10.0.0.3").status, 200);
}

TEST_F(DirectoryHttpTest, DeepOrDuplicateKeyBodiesAreRefusedWithAReason) {
  DirectoryHttpOptions options;
  options.max_json_depth = 4;
  auto server = DirectoryHttpServer::Unbound(service_.get(), options);
  auto post = [&](const std::string& path, const std::string& body) {
    HttpRequest req = Request("POST", path);
    req.body = body;
    HttpResponse res;
    server->Handle(req, res);
    return res;
  };
  auto deep = post("/api/v1/register", R"({"username":[[[["x"]]]]})");
  EXPECT_EQ(deep.status, 400);
  EXPECT_EQ(deep.body, R"({"error":"the JSON nests deeper than 4 levels"})");
  auto twice = post("/api/v1/login", R"({"username":"alice","password":"x","username":"root"})");
  EXPECT_EQ(twice.status, 400);
  EXPECT_EQ(twice.body, R"({"error":"the key 'username' appears twice in one object"})");
}

// Only an announce that carries a token may send a large body, and the
// limits hold while the body is read.
TEST_F(DirectoryHttpTest, OnlyAnAnnounceWithATokenMaySendALargeBody) {
  DirectoryHttpOptions options;
  options.port = 0;
  options.plain_http = true;
  options.max_body = 64 << 10;
  options.max_small_body = 1024;
  auto bound = DirectoryHttpServer::Bind(service_.get(), options);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  auto& server = *bound;
  std::thread serving([&] { server->Serve(); });
  httplib::Client client("127.0.0.1", server->port());
  const std::string big = R"({"username":")" + std::string(2000, 'a') + R"("})";
  auto reg = client.Post("/api/v1/register", big, "application/json");
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->status, 413);
  EXPECT_NE(reg->body.find("larger than 1024 bytes"), std::string::npos) << reg->body;
  auto anonymous = client.Post("/api/v1/announce", big, "application/json");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 413);
  auto with_token = client.Post("/api/v1/announce", {{"Authorization", "Bearer nobody"}}, big,
                                "application/json");
  ASSERT_TRUE(with_token);
  EXPECT_EQ(with_token->status, 400);  // read, then refused for what it says
  server->Stop();
  serving.join();
}

}  // namespace
}  // namespace ferry
