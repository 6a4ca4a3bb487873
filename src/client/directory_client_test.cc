// The directory client against in-process HTTP(S) servers that answer what a
// test tells them: errors, malformed or oversized replies, silence, and
// certificates that change.
#include "client/directory_client.h"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/tls_identity.h"

namespace ferry::dirclient {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dirapi::Announcement;
using dirapi::SharedFile;

const std::string kSha(64, 'a');
const std::string kPeerId(32, 'b');

// Runs an httplib server on a loopback port in a thread.
class TestServer {
 public:
  explicit TestServer(std::unique_ptr<httplib::Server> server, int port = 0)
      : server_(std::move(server)) {
    server_->set_tcp_nodelay(true);
    if (port == 0) {
      port_ = server_->bind_to_any_port("127.0.0.1");
    } else {
      port_ = server_->bind_to_port("127.0.0.1", port) ? port : -1;
    }
  }
  ~TestServer() { Stop(); }
  void Start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // httplib's stop() does nothing until the server runs: wait for that, so
    // that Stop() cannot hang.
    while (!server_->is_running()) std::this_thread::sleep_for(1ms);
  }
  void Stop() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }
  httplib::Server& http() { return *server_; }
  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  int port_ = -1;
  std::thread thread_;
};

void Reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

class DirectoryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(std::make_unique<httplib::Server>());
    ASSERT_GT(server_->port(), 0);
    auto& http = server_->http();
    http.Post("/api/v1/login", [this](const httplib::Request& req, httplib::Response& res) {
      last_body_ = req.body;
      Reply(res, 200,
            R"({"token": ")" + std::string(64, 'f') +
                R"(", "username": "alice", "expires_at": 1790000000})");
    });
    http.Post("/api/v1/logout", [this](const httplib::Request& req, httplib::Response& res) {
      last_auth_ = req.get_header_value("Authorization");
      Reply(res, 200, "{}");
    });
    http.Get("/api/v1/verify", [this](const httplib::Request& req, httplib::Response& res) {
      last_auth_ = req.get_header_value("Authorization");
      if (last_auth_ != "Bearer " + std::string(64, 'f')) {
        Reply(res, 401, R"({"error": "no token"})");
        return;
      }
      Reply(res, 200, R"({"username": "alice", "expires_at": 1790000000})");
    });
    // Whatever a test puts in canned_ is the answer to these three.
    http.Get("/api/v1/peers", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      last_query_ = req.params;
      Reply(res, canned_status_, canned_);
    });
    http.Get("/api/v1/sources", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      last_query_ = req.params;
      Reply(res, canned_status_, canned_);
    });
    http.Get("/api/v1/search", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      last_query_ = req.params;
      Reply(res, canned_status_, canned_);
    });
    http.Post("/api/v1/tickets", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      last_body_ = req.body;
      last_auth_ = req.get_header_value("Authorization");
      Reply(res, canned_status_, canned_);
    });
    http.Post("/api/v1/tickets/check", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      last_body_ = req.body;
      last_auth_ = req.get_header_value("Authorization");
      Reply(res, canned_status_, canned_);
    });
    http.Post("/api/v1/register", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      last_body_ = req.body;
      if (!retry_after_.empty()) res.set_header("Retry-After", retry_after_);
      Reply(res, canned_status_, canned_);
    });
    // Started by Client(), so tests can add routes first.
  }
  void TearDown() override { server_.reset(); }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  std::unique_ptr<DirectoryClient> Client(std::chrono::milliseconds timeout = 5s) {
    server_->Start();
    DirectoryClientOptions o;
    o.url = Url();
    o.timeout = timeout;
    auto c = DirectoryClient::Open(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  std::unique_ptr<DirectoryClient> LoggedIn() {
    auto c = Client();
    auto login = c->Login("alice", "secret-password");
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    return c;
  }
  void Canned(int status, std::string body) {
    std::lock_guard lock(mu_);
    canned_status_ = status;
    canned_ = std::move(body);
  }

  std::unique_ptr<TestServer> server_;
  std::mutex mu_;
  int canned_status_ = 200;
  std::string canned_ = "[]";
  std::string retry_after_;
  std::string last_body_, last_auth_;
  httplib::Params last_query_;
};

TEST(DirectoryUrlTest, ParsesTheFormsPeopleType) {
  auto ep = ParseDirectoryUrl("dir.example.com");
  ASSERT_TRUE(ep.ok());
  EXPECT_TRUE(ep->https);
  EXPECT_EQ(ep->host, "dir.example.com");
  EXPECT_EQ(ep->port, 7080);
  EXPECT_EQ(ep->Url(), "https://dir.example.com:7080");

  ep = ParseDirectoryUrl("http://10.0.0.5:8080/");
  ASSERT_TRUE(ep.ok());
  EXPECT_FALSE(ep->https);
  EXPECT_EQ(ep->port, 8080);
  EXPECT_EQ(ep->prefix, "");

  ep = ParseDirectoryUrl("HTTPS://[::1]:9000/ferry/dir/");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->HostPort(), "[::1]:9000");
  EXPECT_EQ(ep->prefix, "/ferry/dir");

  for (const char* bad :
       {"", "ftp://x", "https://", "https://:80", "host:0", "host:65536", "host:12a", "::1:80",
        "https://user@host", "host/a?b", "host:80#x", "[::1", "http://host:/", "ho st"}) {
    EXPECT_EQ(ParseDirectoryUrl(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST_F(DirectoryClientTest, LoginKeepsTheTokenForLaterCalls) {
  auto c = Client();
  EXPECT_EQ(c->Verify().status().code(), Code::kUnauthenticated);  // no request without a token
  auto login = c->Login("alice", "secret \"password\"");
  ASSERT_TRUE(login.ok()) << login.status().ToString();
  EXPECT_EQ(login->username, "alice");
  EXPECT_EQ(login->expires_at, 1790000000);
  EXPECT_EQ(nlohmann::json::parse(last_body_)["password"], "secret \"password\"");
  auto who = c->Verify();
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->username, "alice");
  ASSERT_TRUE(c->Logout().ok());
  EXPECT_EQ(last_auth_, "Bearer " + std::string(64, 'f'));
  EXPECT_TRUE(c->token().empty());
}

TEST_F(DirectoryClientTest, HttpStatusesBecomeCodesWithTheDirectorysMessage) {
  auto c = Client();
  const std::pair<int, Code> cases[] = {
      {400, Code::kInvalidArgument},   {401, Code::kUnauthenticated},
      {403, Code::kPermissionDenied},  {404, Code::kNotFound},
      {409, Code::kAlreadyExists},     {413, Code::kResourceExhausted},
      {429, Code::kResourceExhausted}, {500, Code::kUnavailable},
      {503, Code::kUnavailable},       {418, Code::kUnknown},
  };
  for (auto [status, code] : cases) {
    Canned(status, R"({"error": "what is wrong )" + std::to_string(status) + "\"}");
    auto r = c->Register("alice", "password1");
    EXPECT_EQ(r.status().code(), code) << status;
    EXPECT_EQ(r.status().message(), "what is wrong " + std::to_string(status));
  }
  // The directory's words cannot drive the terminal.
  Canned(409, R"({"error": "taken\u001b[2J\nfake line"})");
  auto r = c->Register("alice", "password1");
  EXPECT_EQ(r.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(r.status().message().find('\x1b'), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  // Without a JSON error, the status is named.
  Canned(502, "<html>bad gateway</html>");
  r = c->Register("alice", "password1");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("HTTP 502"), std::string::npos) << r.status().message();
}

TEST_F(DirectoryClientTest, TooManyAttemptsSaysWhenToRetry) {
  retry_after_ = "7";
  Canned(429, R"({"error": "too many wrong passwords"})");
  auto r = Client()->Register("alice", "password1");
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(r.status().message(), "too many wrong passwords (retry after 7 s)");
}

TEST_F(DirectoryClientTest, RegisterReturnsTheName) {
  Canned(201, R"({"username": "alice"})");
  auto r = Client()->Register("alice", "password1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "alice");
}

TEST_F(DirectoryClientTest, ParsesPeersAndSearchHits) {
  auto c = LoggedIn();
  Canned(200, R"([{"peer_id": ")" + kPeerId +
                  R"(", "username": "alice", "address": "203.0.113.7:7443",
       "cert_sha256": ")" +
                  std::string(64, 'C') + R"(", "files": 42, "last_seen": 1790000000}])");
  auto peers = c->Peers(10, 20);
  ASSERT_TRUE(peers.ok()) << peers.status().ToString();
  ASSERT_EQ(peers->size(), 1u);
  EXPECT_EQ((*peers)[0].address, "203.0.113.7:7443");
  EXPECT_EQ((*peers)[0].cert_sha256, std::string(64, 'c'));  // kept in lower case
  EXPECT_EQ((*peers)[0].files, 42);
  EXPECT_EQ(last_query_.find("limit")->second, "10");
  EXPECT_EQ(last_query_.find("offset")->second, "20");

  Canned(200, R"([{"name": "song.ogg", "size": 5301234, "sha256": ")" + kSha +
                  R"(", "peers": [{"peer_id": ")" + kPeerId +
                  R"(", "address": "[2001:db8::1]:7443", "cert_sha256": ")" + kSha + R"("}]}])");
  SearchQuery q;
  q.text = "a b&c=d/é";
  auto hits = c->Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].name, "song.ogg");
  EXPECT_EQ((*hits)[0].size, 5301234);
  ASSERT_EQ((*hits)[0].peers.size(), 1u);
  EXPECT_EQ((*hits)[0].peers[0].address, "[2001:db8::1]:7443");
  // The text arrives intact however it is spelled.
  EXPECT_EQ(last_query_.find("q")->second, "a b&c=d/é");
  EXPECT_EQ(last_query_.count("sha256"), 0u);

  q.text.clear();
  q.sha256 = std::string(64, 'A');
  ASSERT_TRUE(c->Search(q).ok());
  EXPECT_EQ(last_query_.find("sha256")->second, std::string(64, 'a'));
  q.sha256 = "abc";
  EXPECT_EQ(c->Search(q).status().code(), Code::kInvalidArgument);
  q.text = "x";
  q.sha256 = kSha;
  EXPECT_EQ(c->Search(q).status().code(), Code::kInvalidArgument);

  // Text the directory would refuse is refused before it is sent.
  last_query_.clear();
  q.sha256.clear();
  for (const std::string& bad : {std::string("tab\there"), std::string(257, 'x')}) {
    q.text = bad;
    EXPECT_EQ(c->Search(q).status().code(), Code::kInvalidArgument) << bad.size();
  }
  EXPECT_TRUE(last_query_.empty());
}

TEST_F(DirectoryClientTest, SourcesAskByContentAndCheckTheReply) {
  auto c = LoggedIn();
  canned_ = R"([{"peer_id": ")" + kPeerId + R"(", "address": "127.0.0.2:7443", "cert_sha256": ")" +
            kSha + R"(", "size": 5, "chunk_root": ")" + std::string(64, 'D') + R"("}])";
  auto sources = c->Sources(std::string(64, 'A'), 7);
  ASSERT_TRUE(sources.ok()) << sources.status().ToString();
  ASSERT_EQ(sources->size(), 1u);
  EXPECT_EQ((*sources)[0].peer.address, "127.0.0.2:7443");
  EXPECT_EQ((*sources)[0].chunk_root, std::string(64, 'd'));
  EXPECT_EQ(last_query_.find("sha256")->second, std::string(64, 'a'));
  EXPECT_EQ(last_query_.find("limit")->second, "7");

  canned_ = R"([{"peer_id": ")" + kPeerId + R"(", "address": "127.0.0.2:7443", "cert_sha256": ")" +
            kSha + R"(", "size": 5, "chunk_root": "short"}])";
  EXPECT_EQ(c->Sources(kSha).status().code(), Code::kInternal);
  EXPECT_EQ(c->Sources("not-a-hash").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->Sources(kSha, 0).status().code(), Code::kInvalidArgument);
}

TEST_F(DirectoryClientTest, TicketsAreAskedForWithTheTokenAndCheckedInTheBody) {
  auto c = LoggedIn();
  const std::string ticket(64, 'e');
  Canned(200, R"({"ticket": ")" + ticket + R"(", "peer_id": ")" + kPeerId +
                  R"(", "expires_at": 1790000300})");
  auto issued = c->IssueTicket(kPeerId);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(issued->ticket, ticket);
  EXPECT_EQ(issued->peer_id, kPeerId);
  EXPECT_EQ(issued->expires_at, 1790000300);
  EXPECT_EQ(last_auth_, "Bearer " + std::string(64, 'f'));
  EXPECT_EQ(nlohmann::json::parse(last_body_), (nlohmann::json{{"peer_id", kPeerId}}));

  Canned(200, R"({"username": "bob", "expires_at": 1790000300})");
  auto holder = c->CheckTicket(kPeerId, ticket);
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  EXPECT_EQ(holder->username, "bob");
  EXPECT_EQ(holder->expires_at, 1790000300);
  EXPECT_EQ(last_auth_, "Bearer " + std::string(64, 'f'));
  EXPECT_EQ(nlohmann::json::parse(last_body_),
            (nlohmann::json{{"peer_id", kPeerId}, {"ticket", ticket}}));

  // The directory's refusal keeps its code and message.
  Canned(403, R"({"error": "not a valid ticket for this peer"})");
  auto refused = c->CheckTicket(kPeerId, ticket);
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(refused.status().message(), "not a valid ticket for this peer");
  Canned(404, R"({"error": "peer is not online"})");
  EXPECT_EQ(c->IssueTicket(kPeerId).status().code(), Code::kNotFound);
}

TEST_F(DirectoryClientTest, TicketsBreakingTheWireRulesAreNeitherSentNorTaken) {
  auto c = LoggedIn();
  const std::string ticket(64, 'e');
  last_body_.clear();
  EXPECT_EQ(c->IssueTicket("ABC").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->CheckTicket(kPeerId, std::string(64, 'E')).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->CheckTicket(kPeerId, std::string(63, 'e')).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->CheckTicket("nope", ticket).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(last_body_, "");  // nothing went out

  // Replies that break the rules, or name another peer, are the directory's fault.
  const std::string other_peer(32, 'c');
  for (const std::string& reply :
       {R"({"ticket": "short", "peer_id": ")" + kPeerId + R"(", "expires_at": 1})",
        R"({"ticket": ")" + ticket + R"(", "peer_id": ")" + other_peer + R"(", "expires_at": 1})",
        R"({"ticket": ")" + ticket + R"(", "peer_id": ")" + kPeerId + R"("})", std::string("[]"),
        std::string("not json")}) {
    Canned(200, reply);
    EXPECT_EQ(c->IssueTicket(kPeerId).status().code(), Code::kInternal) << reply;
  }
  for (const std::string& reply : {std::string(R"({"username": "Bob!", "expires_at": 1})"),
                                   std::string(R"({"username": "bob", "expires_at": -1})"),
                                   std::string(R"({"expires_at": 1})")}) {
    Canned(200, reply);
    EXPECT_EQ(c->CheckTicket(kPeerId, ticket).status().code(), Code::kInternal) << reply;
  }
}

TEST_F(DirectoryClientTest, MalformedRepliesAreErrorsNotCrashes) {
  auto c = LoggedIn();
  std::string good_peer = R"({"peer_id": ")" + kPeerId +
                          R"(", "username": "bob", "address": "h:1", "cert_sha256": ")" + kSha +
                          R"(", "files": 1, "last_seen": 2})";
  auto peer_with = [&](const std::string& key, const std::string& value) {
    auto j = nlohmann::json::parse(good_peer);
    j[key] = nlohmann::json::parse(value);
    return "[" + j.dump() + "]";
  };
  const std::string bad_replies[] = {
      "",
      "not json",
      "[",
      "{}",
      "[1]",
      "[null]",
      "[[" + std::string(100000, '[') + "]]",
      peer_with("files", "-1"),
      peer_with("files", "\"42\""),
      peer_with("files", "1.5"),
      peer_with("files", "18446744073709551615"),
      peer_with("last_seen", "null"),
      peer_with("peer_id", "\"../../admin\""),
      peer_with("peer_id", "\"\""),
      // The directory's one rule: exactly 32 lower-case hex digits.
      peer_with("peer_id", "\"" + std::string(64, 'b') + "\""),
      peer_with("peer_id", "\"" + std::string(32, 'B') + "\""),
      peer_with("peer_id", "\"" + std::string(31, 'b') + "\""),
      peer_with("cert_sha256", "\"abc\""),
      peer_with("address", "\"no-port\""),
      peer_with("address", "\"h:99999\""),
      peer_with("address", "\"h:1\\r\\nX: y\""),
      peer_with("username", "\"\""),
      peer_with("username", "42"),
  };
  for (const auto& body : bad_replies) {
    Canned(200, body);
    auto peers = c->Peers();
    EXPECT_FALSE(peers.ok()) << body.substr(0, 200);
    EXPECT_EQ(peers.status().code(), Code::kInternal) << peers.status().ToString();
  }
  Canned(200, "[" + good_peer + "]");
  EXPECT_TRUE(c->Peers().ok());

  auto hit_named = [&](const std::string& name) {
    nlohmann::json hit = {
        {"name", name}, {"size", 1}, {"sha256", kSha}, {"peers", nlohmann::json::array()}};
    return "[" + hit.dump() + "]";
  };
  SearchQuery q;
  q.text = "x";
  for (const char* name : {"", ".", "..", "a/b", "bell\x07", "line\nbreak"}) {
    Canned(200, hit_named(name));
    EXPECT_EQ(c->Search(q).status().code(), Code::kInternal) << name;
  }
  Canned(200, hit_named("fine name.txt"));
  EXPECT_TRUE(c->Search(q).ok());
  Canned(200, R"([{"name": "a", "size": 1, "sha256": ")" + kSha + R"(", "peers": {}}])");
  EXPECT_EQ(c->Search(q).status().code(), Code::kInternal);
}

TEST_F(DirectoryClientTest, AnOversizedReplyIsCutOff) {
  server_->http().Get(
      "/api/v1/peers/" + kPeerId + "/files", [](const httplib::Request&, httplib::Response& res) {
        res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
          static const std::string chunk(1 << 20, ' ');
          return sink.write(chunk.data(), chunk.size());
        });
      });
  auto c = LoggedIn();
  auto files = c->PeerFiles(kPeerId);
  EXPECT_EQ(files.status().code(), Code::kUnavailable);
  EXPECT_NE(files.status().message().find("larger than"), std::string::npos)
      << files.status().message();
}

TEST_F(DirectoryClientTest, PagesThroughAllOfAPeersFiles) {
  std::atomic<int> requests = 0;
  server_->http().Get("/api/v1/peers/" + kPeerId + "/files", [&](const httplib::Request& req,
                                                                 httplib::Response& res) {
    ++requests;
    int limit = std::stoi(req.get_param_value("limit"));
    int offset = std::stoi(req.get_param_value("offset"));
    nlohmann::json out = nlohmann::json::array();
    for (int i = offset; i < std::min(offset + limit, 2500); ++i) {
      out.push_back(
          {{"path", "dir/f" + std::to_string(i)}, {"size", i}, {"sha256", kSha}, {"mtime", 0}});
    }
    Reply(res, 200, out.dump());
  });
  auto c = LoggedIn();
  auto files = c->AllPeerFiles(kPeerId);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 2500u);
  EXPECT_EQ((*files)[2499].path, "dir/f2499");
  EXPECT_EQ(requests.load(), 3);
  // An id that could leave its route is refused before any request.
  EXPECT_EQ(c->PeerFiles("../verify").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->RemovePeer("a/b").code(), Code::kInvalidArgument);
}

TEST_F(DirectoryClientTest, AnnounceSendsWhatChanged) {
  nlohmann::json seen;
  server_->http().Post(
      "/api/v1/announce", [&](const httplib::Request& req, httplib::Response& res) {
        seen = nlohmann::json::parse(req.body);
        Reply(res, 200, R"({"peer_id": ")" + kPeerId + R"(", "heartbeat_seconds": 10})");
      });
  server_->http().Post("/api/v1/heartbeat", [&](const httplib::Request&, httplib::Response& res) {
    Reply(res, 404, R"({"error": "peer is unknown or expired"})");
  });
  server_->http().Delete("/api/v1/peers/" + kPeerId,
                         [&](const httplib::Request&, httplib::Response& res) {
                           Reply(res, 403, R"({"error": "another user's peer"})");
                         });
  auto c = LoggedIn();
  Announcement a;
  a.address = "127.0.0.1:7443";
  a.cert_sha256 = kSha;
  a.files = std::vector<SharedFile>{{"music/song.ogg", 5, kSha, 7, ""}};
  auto lease = c->Announce(a);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->peer_id, kPeerId);
  EXPECT_EQ(lease->heartbeat_seconds, 10);
  EXPECT_EQ(seen["files"][0]["path"], "music/song.ogg");
  EXPECT_FALSE(seen.contains("peer_id"));

  Announcement update;
  update.peer_id = kPeerId;
  update.added = {{"new.txt", 1, kSha, 2, ""}};
  update.removed = {"music/song.ogg"};
  ASSERT_TRUE(c->Announce(update).ok());
  EXPECT_EQ(seen["peer_id"], kPeerId);
  EXPECT_EQ(seen["removed"][0], "music/song.ogg");
  EXPECT_FALSE(seen.contains("files"));
  EXPECT_FALSE(seen.contains("address"));

  EXPECT_EQ(c->Announce(Announcement{}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->Announce(Announcement{}).status().message(), "'address' is missing");
  EXPECT_EQ(c->Heartbeat(kPeerId).status().code(), Code::kNotFound);
  EXPECT_EQ(c->RemovePeer(kPeerId).code(), Code::kPermissionDenied);
  EXPECT_EQ(c->RemovePeer(kPeerId).message(), "another user's peer");
}

TEST_F(DirectoryClientTest, ALeaseWithAnIdTheDirectoryCannotMakeIsAnError) {
  std::string reply;
  server_->http().Post("/api/v1/heartbeat", [&](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, reply);
  });
  auto c = LoggedIn();
  reply = R"({"peer_id": ")" + kPeerId + R"(", "heartbeat_seconds": 10})";
  ASSERT_TRUE(c->Heartbeat(kPeerId).ok());
  for (const std::string& id : {std::string(64, 'b'), std::string(32, 'B'), std::string("b")}) {
    reply = R"({"peer_id": ")" + id + R"(", "heartbeat_seconds": 10})";
    auto lease = c->Heartbeat(kPeerId);
    EXPECT_EQ(lease.status().code(), Code::kInternal) << id;
    EXPECT_EQ(lease.status().message(),
              "the directory's reply is malformed: 'peer_id' must be 32 lower-case hex digits")
        << id;
  }
}

TEST_F(DirectoryClientTest, AnnouncesBreakingTheWireRulesAreNotSent) {
  std::atomic<int> requests = 0;
  server_->http().Post("/api/v1/announce", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    Reply(res, 200, R"({"peer_id": ")" + kPeerId + R"(", "heartbeat_seconds": 10})");
  });
  auto c = LoggedIn();
  Announcement twice;
  twice.address = "127.0.0.1:7443";
  twice.cert_sha256 = kSha;
  twice.files = std::vector<SharedFile>{{"a", 1, kSha, 0, ""}, {"a", 2, kSha, 0, ""}};
  auto r = c->Announce(twice);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "files: the path 'a' appears twice");
  Announcement upper_id;
  upper_id.peer_id = std::string(32, 'B');
  EXPECT_EQ(c->Announce(upper_id).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c->Heartbeat(std::string(64, 'b')).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(requests.load(), 0);
  twice.files->pop_back();
  EXPECT_TRUE(c->Announce(twice).ok());
  EXPECT_EQ(requests.load(), 1);
}

TEST_F(DirectoryClientTest, ASilentDirectoryTimesOut) {
  // Shared with the handler, which may still be waking up when the test ends
  // (the server thread outlives this function's locals; it once read a
  // destroyed condition variable under ASan).
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
  };
  auto gate = std::make_shared<Gate>();
  server_->http().Get("/api/v1/peers/" + kPeerId + "/files",
                      [gate](const httplib::Request&, httplib::Response& res) {
                        std::unique_lock lock(gate->mu);
                        gate->cv.wait_for(lock, 10s, [&] { return gate->release; });
                        Reply(res, 200, "[]");
                      });
  auto c = Client(300ms);
  c->set_token("t");
  auto start = std::chrono::steady_clock::now();
  auto who = c->PeerFiles(kPeerId);
  auto took = std::chrono::steady_clock::now() - start;
  {
    std::lock_guard lock(gate->mu);
    gate->release = true;
  }
  gate->cv.notify_all();
  EXPECT_EQ(who.status().code(), Code::kUnavailable);
  EXPECT_NE(who.status().message().find("cannot reach the directory at " + Url()),
            std::string::npos)
      << who.status().message();
  EXPECT_NE(who.status().message().find("no answer within 0.3 s"), std::string::npos)
      << who.status().message();
  EXPECT_LT(took, 3s);
}

TEST_F(DirectoryClientTest, NobodyListeningIsUnavailable) {
  server_->Start();
  int port = server_->port();
  server_.reset();  // the port is closed
  DirectoryClientOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.timeout = 2s;
  auto c = DirectoryClient::Open(o);
  ASSERT_TRUE(c.ok());
  auto start = std::chrono::steady_clock::now();
  auto r = (*c)->Register("alice", "password1");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // refused, not timed out
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(
      r.status().message().find("cannot reach the directory at " + o.url + ": cannot connect"),
      std::string::npos)
      << r.status().message();
}

// ---- HTTPS ------------------------------------------------------------------

class DirectoryTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-dirclient-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    trust_.known_servers_file = (dir_ / "config/known_servers").string();
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  // Starts an HTTPS directory with the certificate in `name` (made on first use).
  void StartServer(const std::string& name, int port = 0) {
    bool created = false;
    std::string cert = (dir_ / (name + ".crt")).string(), key = (dir_ / (name + ".key")).string();
    ASSERT_TRUE(LoadOrCreateSelfSigned(cert, key, &created).ok());
    auto ssl = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
    ASSERT_TRUE(ssl->is_valid());
    ssl->Get("/api/v1/verify", [](const httplib::Request&, httplib::Response& res) {
      Reply(res, 200, R"({"username": "alice", "expires_at": 1})");
    });
    server_ = std::make_unique<TestServer>(std::move(ssl), port);
    ASSERT_GT(server_->port(), 0);
    server_->Start();
  }
  std::string Cert(const std::string& name) {
    return ReadSmallFile((dir_ / (name + ".crt")).string()).value();
  }
  DirectoryClientOptions Options(const std::string& host = "127.0.0.1") {
    DirectoryClientOptions o;
    o.url = "https://" + host + ":" + std::to_string(server_->port());
    o.trust = trust_;
    o.timeout = 5s;
    return o;
  }
  Status VerifyWith(const Result<std::unique_ptr<DirectoryClient>>& client) {
    if (!client.ok()) return client.status();
    (*client)->set_token("t");
    return (*client)->Verify().status();
  }

  fs::path dir_;
  TrustOptions trust_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(DirectoryTlsTest, PinsOnFirstUseAndRefusesAChangedCertificate) {
  StartServer("first");
  // Unknown, and nobody to ask: refused.
  EXPECT_EQ(VerifyWith(DirectoryClient::Open(Options())).code(), Code::kPermissionDenied);
  // Trusted when told to, and remembered.
  trust_.trust_new_server = true;
  Status s = VerifyWith(DirectoryClient::Open(Options()));
  ASSERT_TRUE(s.ok()) << s.ToString();
  trust_.trust_new_server = false;
  s = VerifyWith(DirectoryClient::Open(Options()));
  ASSERT_TRUE(s.ok()) << s.ToString();

  // The same address now presents another certificate.
  int port = server_->port();
  server_.reset();
  StartServer("second", port);
  s = VerifyWith(DirectoryClient::Open(Options()));
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_NE(s.message().find("CHANGED"), std::string::npos) << s.message();
}

TEST_F(DirectoryTlsTest, APinnedConnectionAcceptsOnlyThePinnedCertificate) {
  StartServer("real");
  std::string real = Cert("real");
  TrustedServer pinned{real, kSelfSignedName, CertFingerprint(real).value()};
  // Dialling an IP address works: the pinned certificate's name is checked.
  Status s = VerifyWith(DirectoryClient::OpenTrusted(Options(), pinned));
  ASSERT_TRUE(s.ok()) << s.ToString();

  // A server with another key, even one making the same names, is refused
  // during the handshake: the pin is the only root.
  int port = server_->port();
  server_.reset();
  StartServer("impostor", port);
  s = VerifyWith(DirectoryClient::OpenTrusted(Options(), pinned));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("TLS verification failed"), std::string::npos) << s.message();
}

TEST_F(DirectoryTlsTest, ACaCertificateVerifiesTheHostDialled) {
  StartServer("server");
  trust_.ca_cert_file = (dir_ / "server.crt").string();
  for (const char* host : {"127.0.0.1", "localhost"}) {
    Status s = VerifyWith(DirectoryClient::Open(Options(host)));
    EXPECT_TRUE(s.ok()) << host << ": " << s.ToString();
  }
  // A CA that did not sign the server's certificate.
  StartServer("other");
  bool created = false;
  ASSERT_TRUE(LoadOrCreateSelfSigned((dir_ / "unrelated.crt").string(),
                                     (dir_ / "unrelated.key").string(), &created)
                  .ok());
  trust_.ca_cert_file = (dir_ / "unrelated.crt").string();
  Status s = VerifyWith(DirectoryClient::Open(Options()));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("not trusted"), std::string::npos) << s.message();
}

TEST_F(DirectoryTlsTest, HttpsToAPlainDirectoryFailsClearly) {
  TestServer plain(std::make_unique<httplib::Server>());
  plain.Start();
  trust_.trust_new_server = true;
  DirectoryClientOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(plain.port());
  o.trust = trust_;
  o.timeout = 2s;
  Status s = VerifyWith(DirectoryClient::Open(o));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("cannot reach the directory at " + o.url), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace ferry::dirclient
