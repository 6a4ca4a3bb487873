// The peer's web UI API (docs/peer-ui.md) against a real directory, real
// serving peers and a real `ferry peer` with its UI on loopback: the secret,
// CSRF and Host/Origin checks; a download started, followed live over
// Server-Sent Events, paused, resumed and cancelled; the history kept across
// a restart; the errors a person can act on; /metrics.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/e2e/directory_harness.h"
#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

const auto kStart = 30s * kSlowdown;
constexpr int64_t kMiB = 1 << 20;

struct UiReply {
  int status = 0;  // 0: no answer
  json body;
  std::string raw;
  httplib::Headers headers;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class PeerUiE2eTest : public ::testing::Test {
 protected:
  struct Peer {
    Child child;
    std::string log;
    std::string out;
  };

  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-e2e-ui-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(Path("ui-share"));
    directory_.Start(Path("directory"));
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_OK(RunFerry({"register", "--trust-new-server"}, Env("alice"), "", 60s));
    ASSERT_OK(RunFerry({"register"}, Env("bob"), "", 60s));
  }
  void TearDown() override {
    for (auto& p : peers_) {
      p.child.Signal(SIGTERM);
      p.child.Wait(30s);
    }
    ui_.child.Signal(SIGTERM);
    ui_.child.Wait(30s);
    directory_.Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  ferry::e2e::Env Env(const std::string& user) const {
    return {{"XDG_CONFIG_HOME", Path("config")},
            {"FERRY_DIRECTORY", directory_.url()},
            {"FERRY_USER", user},
            {"FERRY_PASSWORD", user + "-password"}};
  }

  // Waits until `log` holds `re`; its first group.
  std::string WaitFor(Peer& p, const std::string& file, const std::regex& re) {
    auto deadline = std::chrono::steady_clock::now() + kStart;
    while (std::chrono::steady_clock::now() < deadline && p.child.Running()) {
      std::smatch m;
      std::string text = ReadFile(file);
      if (std::regex_search(text, m, re)) return m[1].str();
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "never matched in " << file << ":\n"
                  << ReadFile(p.log) << "\nstdout:\n"
                  << ReadFile(p.out);
    return "";
  }

  // A serving peer of alice's, sharing `files` (name -> size), started with
  // `extra` flags.
  void StartServer(const std::map<std::string, int64_t>& files,
                   const std::vector<std::string>& extra = {}) {
    const std::string i = std::to_string(peers_.size());
    fs::create_directories(Path("share" + i));
    for (const auto& [name, size] : files) {
      // Content by name: files of other names differ, of one name are the same.
      WriteRandomFile(Path("share" + i + "/" + name), static_cast<size_t>(size),
                      static_cast<unsigned>(std::hash<std::string>{}(name)));
      Age(Path("share" + i + "/" + name));
    }
    Peer& p = peers_.emplace_back();
    p.log = Path("server" + i + ".log");
    p.out = Path("server" + i + ".out");
    std::vector<std::string> args = {
        "peer",     "--share",     Path("share" + i), "--data", Path("data" + i),
        "--listen", "127.0.0.1:0", "--ui-listen",     "off",    "--trust-new-server"};
    args.insert(args.end(), extra.begin(), extra.end());
    p.child = Child::Spawn(args, Env("alice"), p.out, p.log);
    WaitFor(p, p.log, std::regex(R"(announced as (127\.0\.0\.1:[0-9]+))"));
  }

  // Bob's peer with its UI on a free port; its port and secret.
  void StartUi(const std::vector<std::string>& extra = {}) {
    static int starts = 0;
    ++starts;
    ui_.log = Path("ui-" + std::to_string(starts) + ".log");
    ui_.out = Path("ui-" + std::to_string(starts) + ".out");
    std::vector<std::string> args = {
        "peer",     "--share",     Path("ui-share"), "--data",      Path("ui-data"),
        "--listen", "127.0.0.1:0", "--ui-listen",    "127.0.0.1:0", "--trust-new-server"};
    args.insert(args.end(), extra.begin(), extra.end());
    ui_.child = Child::Spawn(args, Env("bob"), ui_.out, ui_.log);
    std::string link =
        WaitFor(ui_, ui_.out,
                std::regex(R"(web UI: (http://127\.0\.0\.1:[0-9]+/login\?secret=[0-9a-f]+))"));
    std::smatch m;
    ASSERT_TRUE(std::regex_search(link, m, std::regex(R"(:([0-9]+)/login\?secret=([0-9a-f]{64}))")))
        << link;
    port_ = std::stoi(m[1].str());
    secret_ = m[2].str();
    EXPECT_EQ(secret_.size(), 64u);
    // Announced, so that its peer id is known.
    WaitFor(ui_, ui_.log, std::regex(R"(announced as (127\.0\.0\.1:[0-9]+))"));
  }

  // A request to the UI; `headers` replace the defaults (Bearer secret).
  UiReply Call(const std::string& method, const std::string& path, const std::string& body = "",
               std::optional<httplib::Headers> headers = std::nullopt) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(10s);
    client.set_read_timeout(60s * kSlowdown);
    httplib::Headers h =
        headers ? *headers : httplib::Headers{{"Authorization", "Bearer " + secret_}};
    httplib::Result r =
        method == "POST" ? client.Post(path, h, body, "application/json") : client.Get(path, h);
    UiReply reply;
    if (!r) return reply;
    reply.status = r->status;
    reply.raw = r->body;
    reply.headers = r->headers;
    reply.body = json::parse(r->body, nullptr, false);
    return reply;
  }

  // Waits until GET /api/v1/search?q=NAME shows `peers` peers; the content's SHA-256.
  std::string WaitForSearch(const std::string& name, int64_t peers) {
    auto deadline = std::chrono::steady_clock::now() + kStart;
    UiReply r;
    while (std::chrono::steady_clock::now() < deadline) {
      r = Call("GET", "/api/v1/search?q=" + name);
      if (r.status == 200 && r.body["results"].size() == 1 &&
          r.body["results"][0]["peers"] == peers) {
        return r.body["results"][0]["sha256"];
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "search never showed " << name << " on " << peers << " peers: " << r.raw;
    return "";
  }

  // Waits until download `id` is in `state`; the download.
  json WaitForState(const std::string& id, const std::string& state) {
    auto deadline = std::chrono::steady_clock::now() + 120s * kSlowdown;
    json last;
    while (std::chrono::steady_clock::now() < deadline) {
      UiReply r = Call("GET", "/api/v1/downloads");
      for (const auto& d : r.body["downloads"]) {
        if (d["id"] == id) last = d;
      }
      if (!last.is_null() && last["state"] == state) return last;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "download " << id << " never became " << state << ": " << last.dump() << "\n"
                  << ReadFile(ui_.log);
    return last;
  }

  fs::path dir_;
  DirectoryProcess directory_;
  std::vector<Peer> peers_;
  Peer ui_;
  int port_ = 0;
  std::string secret_;
};

TEST_F(PeerUiE2eTest, TheSecretTheCsrfTokenAndTheHostAreRequired) {
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  // No secret: the API says how to get in, the page shows where the link is.
  UiReply none = Call("GET", "/api/v1/session", "", httplib::Headers{});
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.value("error", "").find("ferry peer"), std::string::npos) << none.raw;
  UiReply page = Call("GET", "/", "", httplib::Headers{});
  EXPECT_EQ(page.status, 401);
  EXPECT_NE(page.raw.find("secret link"), std::string::npos);
  EXPECT_EQ(Call("GET", "/metrics", "", httplib::Headers{}).status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/events", "", httplib::Headers{}).status, 401);
  EXPECT_EQ(Call("GET", "/login?secret=" + std::string(64, '0'), "", httplib::Headers{}).status,
            401);

  // The link sets an HttpOnly, SameSite=Strict cookie and sends the browser on.
  UiReply login = Call("GET", "/login?secret=" + secret_, "", httplib::Headers{});
  EXPECT_EQ(login.status, 303);
  EXPECT_EQ(login.Header("Location"), "/");
  const std::string cookie = login.Header("Set-Cookie");
  EXPECT_EQ(cookie, "ferry_ui=" + secret_ + "; HttpOnly; SameSite=Strict; Path=/");
  httplib::Headers with_cookie{{"Cookie", "ferry_ui=" + secret_}};
  UiReply ui = Call("GET", "/", "", with_cookie);
  EXPECT_EQ(ui.status, 200);
  EXPECT_NE(ui.Header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(ui.Header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  UiReply session = Call("GET", "/api/v1/session", "", with_cookie);
  ASSERT_EQ(session.status, 200) << session.raw;
  EXPECT_EQ(session.body["user"], "bob");
  EXPECT_EQ(session.body["peer_id"].get<std::string>().size(), 32u);
  const std::string csrf = session.body["csrf_token"];
  EXPECT_EQ(csrf.size(), 64u);

  // A change made with the cookie needs the CSRF token; a Bearer call does not.
  const std::string body = json{{"sha256", std::string(64, 'a')}}.dump();
  UiReply no_csrf = Call("POST", "/api/v1/downloads", body, with_cookie);
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_NE(no_csrf.body.value("error", "").find("X-CSRF-Token"), std::string::npos);
  httplib::Headers wrong_csrf = with_cookie;
  wrong_csrf.emplace("X-CSRF-Token", std::string(64, 'f'));
  EXPECT_EQ(Call("POST", "/api/v1/downloads", body, wrong_csrf).status, 403);
  httplib::Headers right_csrf = with_cookie;
  right_csrf.emplace("X-CSRF-Token", csrf);
  UiReply nobody = Call("POST", "/api/v1/downloads", body, right_csrf);
  EXPECT_EQ(nobody.status, 404) << nobody.raw;
  EXPECT_NE(nobody.body.value("error", "").find("no peer online has this file"), std::string::npos)
      << nobody.raw;
  EXPECT_EQ(Call("POST", "/api/v1/downloads", body).status, 404);

  // DNS rebinding and other sites' pages: refused even with the secret.
  httplib::Headers rebound{{"Authorization", "Bearer " + secret_},
                           {"Host", "evil.example:" + std::to_string(port_)}};
  UiReply host = Call("GET", "/api/v1/session", "", rebound);
  EXPECT_EQ(host.status, 403);
  EXPECT_NE(host.body.value("error", "").find("evil.example"), std::string::npos) << host.raw;
  httplib::Headers foreign = right_csrf;
  foreign.emplace("Origin", "http://evil.example");
  EXPECT_EQ(Call("POST", "/api/v1/downloads", body, foreign).status, 403);
  httplib::Headers own = right_csrf;
  own.emplace("Origin", "http://127.0.0.1:" + std::to_string(port_));
  EXPECT_EQ(Call("POST", "/api/v1/downloads", body, own).status, 404);
}

TEST_F(PeerUiE2eTest, BadInputGetsAClearError) {
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  struct Case {
    std::string method, path, body;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"POST", "/api/v1/downloads", "{not json", 400, "JSON object"},
      {"POST", "/api/v1/downloads", "[]", 400, "JSON object"},
      {"POST", "/api/v1/downloads", "{}", 400, "sha256"},
      {"POST", "/api/v1/downloads", R"({"sha256": 7})", 400, "sha256"},
      {"POST", "/api/v1/downloads", R"({"sha256": "abc"})", 400, "64"},
      {"POST", "/api/v1/downloads", json{{"sha256", std::string(64, 'a')}, {"name", "../x"}}.dump(),
       400, "cannot be a file name"},
      {"POST", "/api/v1/downloads", json{{"sha256", std::string(64, 'a')}, {"name", 5}}.dump(), 400,
       "name"},
      {"POST", "/api/v1/downloads/0123456789abcdef/pause", "", 404, "no download"},
      {"POST", "/api/v1/downloads/0123456789abcdef/explode", "", 404, "pause, resume or cancel"},
      {"GET", "/api/v1/search", "", 400, "exactly one"},
      {"GET", "/api/v1/search?q=a&sha256=b", "", 400, "exactly one"},
      {"GET", "/api/v1/search?sha256=xyz", "", 400, "SHA-256"},
      {"GET", "/api/v1/history?limit=abc", "", 400, "limit"},
      {"GET", "/api/v1/history?limit=0", "", 400, "limit"},
      {"GET", "/api/v1/nothing", "", 404, "no route"},
  };
  for (const auto& c : cases) {
    UiReply r = Call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << ": " << r.raw;
    ASSERT_TRUE(r.body.is_object()) << c.path << ": " << r.raw;
    EXPECT_NE(r.body.value("error", "").find(c.says), std::string::npos)
        << c.method << " " << c.path << " " << c.body << ": " << r.raw;
  }
  // An oversized body is refused from its Content-Length, before it is sent.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string head =
      "POST /api/v1/downloads HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
      "\r\nAuthorization: Bearer " + secret_ + "\r\nContent-Length: 1048576\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  char reply[512] = {};
  ssize_t n = ::recv(fd, reply, sizeof(reply) - 1, 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(std::string(reply).starts_with("HTTP/1.1 413")) << reply;
}

TEST_F(PeerUiE2eTest, ADownloadFromEveryPeerIsFollowedLiveAndKeptInTheHistory) {
  const int64_t size = 12 * kMiB + 5;
  StartServer({{"movie.bin", size}});
  StartServer({{"movie.bin", size}});
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  const std::string sha = WaitForSearch("movie", 2);
  ASSERT_FALSE(sha.empty());
  EXPECT_EQ(sha, Sha256File(Path("share0/movie.bin")));

  // The live feed, read while the download runs, on a thread that may
  // outlive a failed test (it ends when the peer does).
  struct Feed {
    std::mutex mu;
    std::vector<std::pair<std::string, json>> events;
    std::atomic<bool> done{false};
  };
  auto feed = std::make_shared<Feed>();
  std::thread([feed, port = port_, secret = secret_] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(120s * kSlowdown);
    std::string buffer;
    client.Get("/api/v1/events", {{"Authorization", "Bearer " + secret}},
               [&](const char* data, size_t n) {
                 buffer.append(data, n);
                 for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
                   std::string block = buffer.substr(0, end);
                   buffer.erase(0, end + 2);
                   std::smatch m;
                   if (!std::regex_search(block, m, std::regex("event: (\\w+)\ndata: (.*)"))) {
                     continue;
                   }
                   std::lock_guard lock(feed->mu);
                   feed->events.emplace_back(m[1].str(), json::parse(m[2].str(), nullptr, false));
                   if (m[1].str() == "history") feed->done = true;
                 }
                 return !feed->done.load();
               });
    feed->done = true;
  }).detach();
  // The snapshot comes first, before anything is started.
  auto deadline = std::chrono::steady_clock::now() + kStart;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(feed->mu);
      if (!feed->events.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  UiReply started = Call("POST", "/api/v1/downloads", json{{"sha256", sha}}.dump());
  ASSERT_EQ(started.status, 201) << started.raw;
  const std::string id = started.body["id"];
  EXPECT_EQ(started.body["name"], "movie.bin");
  EXPECT_EQ(started.body["size"], size);
  // The same content again while it runs: refused.
  UiReply twice = Call("POST", "/api/v1/downloads", json{{"sha256", sha}}.dump());
  EXPECT_EQ(twice.status, 409) << twice.raw;

  json finished = WaitForState(id, "done");
  deadline = std::chrono::steady_clock::now() + kStart;
  while (!feed->done && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(finished["done_bytes"], size);
  const std::string path = finished["path"];
  EXPECT_EQ(path, Path("ui-data/downloads/movie.bin"));
  EXPECT_EQ(Sha256File(path), sha);
  ASSERT_EQ(finished["peers"].size(), 2u) << finished.dump();
  int64_t from_peers = 0;
  for (const auto& p : finished["peers"]) {
    EXPECT_EQ(p["user"], "alice");
    EXPECT_EQ(p["state"], "active");
    from_peers += p["bytes"].get<int64_t>();
  }
  EXPECT_EQ(from_peers, size);
  {
    std::lock_guard lock(feed->mu);
    const auto& events = feed->events;
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events[0].first, "snapshot");
    EXPECT_TRUE(events[0].second["downloads"].empty()) << events[0].second.dump();
    // Progress was pushed: the download was seen running, then done.
    bool running = false;
    bool done_seen = false;
    for (const auto& [name, data] : events) {
      if (name != "download" || data["id"] != id) continue;
      if (data["state"] == "running") running = true;
      if (data["state"] == "done") done_seen = true;
    }
    EXPECT_TRUE(running);
    EXPECT_TRUE(done_seen);
    EXPECT_EQ(events.back().first, "history");
    EXPECT_EQ(events.back().second["id"], id);
  }

  // The history, then again after a restart.
  for (int round = 0; round < 2; ++round) {
    UiReply history = Call("GET", "/api/v1/history");
    ASSERT_EQ(history.status, 200) << history.raw;
    ASSERT_EQ(history.body["history"].size(), 1u) << history.raw;
    const json& e = history.body["history"][0];
    EXPECT_EQ(e["id"], id);
    EXPECT_EQ(e["state"], "done");
    EXPECT_EQ(e["sha256"], sha);
    EXPECT_EQ(e["size"], size);
    EXPECT_EQ(e["sources"].size(), 2u) << e.dump();
    EXPECT_GT(e["seconds"].get<double>(), 0);
    EXPECT_GT(e["rate"].get<double>(), 0);
    if (round == 0) {
      UiReply metrics = Call("GET", "/metrics");
      ASSERT_EQ(metrics.status, 200);
      EXPECT_NE(metrics.raw.find("ferry_peer_fetched_bytes_total " + std::to_string(size) + "\n"),
                std::string::npos)
          << metrics.raw;
      EXPECT_NE(metrics.raw.find("ferry_peer_downloads{state=\"done\"} 1\n"), std::string::npos)
          << metrics.raw;
      EXPECT_NE(metrics.raw.find("ferry_peer_peers_dropped_total 0\n"), std::string::npos);
      ui_.child.Signal(SIGTERM);
      ASSERT_EQ(ui_.child.Wait(30s), 0) << ReadFile(ui_.log);
      StartUi();
      ASSERT_FALSE(HasFatalFailure());
    }
  }
  // The list of downloads is this run's.
  EXPECT_TRUE(Call("GET", "/api/v1/downloads").body["downloads"].empty());
}

TEST_F(PeerUiE2eTest, ADownloadIsPausedResumedAndCancelled) {
  // 16 MiB at 2 MiB/s: about 8 s, time to act on it.
  const int64_t size = 16 * kMiB;
  StartServer({{"slow.bin", size}, {"other.bin", size}}, {"--limit-rate", "2M"});
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  const std::string slow = WaitForSearch("slow", 1);
  const std::string other = WaitForSearch("other", 1);
  ASSERT_FALSE(HasFailure());

  UiReply started = Call("POST", "/api/v1/downloads", json{{"sha256", slow}}.dump());
  ASSERT_EQ(started.status, 201) << started.raw;
  const std::string id = started.body["id"];
  auto deadline = std::chrono::steady_clock::now() + 60s * kSlowdown;
  json d;
  while (std::chrono::steady_clock::now() < deadline) {
    d = Call("GET", "/api/v1/downloads").body["downloads"][0];
    if (d["done_bytes"].get<int64_t>() >= 2 * kMiB) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(d["done_bytes"].get<int64_t>(), 2 * kMiB) << d.dump();
  EXPECT_GT(d["rate"].get<double>(), 0) << d.dump();
  EXPECT_FALSE(d["eta_seconds"].is_null()) << d.dump();
  ASSERT_EQ(d["peers"].size(), 1u);
  EXPECT_GT(d["peers"][0]["rate"].get<double>(), 0) << d.dump();

  UiReply paused = Call("POST", "/api/v1/downloads/" + id + "/pause");
  ASSERT_EQ(paused.status, 200) << paused.raw;
  EXPECT_EQ(paused.body["state"], "paused");
  const int64_t kept = paused.body["done_bytes"];
  EXPECT_GT(kept, 0);
  EXPECT_TRUE(fs::exists(Path("ui-data/downloads/.ferry-slow.bin.part")));
  EXPECT_EQ(Call("POST", "/api/v1/downloads/" + id + "/pause").status, 409);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Call("GET", "/api/v1/downloads").body["downloads"][0]["done_bytes"], kept);

  // A restart keeps it paused, with what it verified.
  ui_.child.Signal(SIGTERM);
  ASSERT_EQ(ui_.child.Wait(30s), 0) << ReadFile(ui_.log);
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  json after = Call("GET", "/api/v1/downloads").body["downloads"];
  ASSERT_EQ(after.size(), 1u) << after.dump();
  EXPECT_EQ(after[0]["id"], id);
  EXPECT_EQ(after[0]["state"], "paused");
  EXPECT_EQ(after[0]["done_bytes"].get<int64_t>(), kept / kMiB * kMiB) << after.dump();

  UiReply resumed = Call("POST", "/api/v1/downloads/" + id + "/resume");
  ASSERT_EQ(resumed.status, 200) << resumed.raw;
  // A download running when the peer stops goes on after its restart.
  WaitForState(id, "running");
  ui_.child.Signal(SIGTERM);
  ASSERT_EQ(ui_.child.Wait(30s), 0) << ReadFile(ui_.log);
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  json done = WaitForState(id, "done");
  EXPECT_EQ(Sha256File(Path("ui-data/downloads/slow.bin")), slow);
  EXPECT_EQ(Call("POST", "/api/v1/downloads/" + id + "/resume").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/downloads/" + id + "/cancel").status, 409);

  // Another, cancelled mid-way: nothing of it is left.
  UiReply second = Call("POST", "/api/v1/downloads", json{{"sha256", other}}.dump());
  ASSERT_EQ(second.status, 201) << second.raw;
  const std::string id2 = second.body["id"];
  deadline = std::chrono::steady_clock::now() + 60s * kSlowdown;
  while (std::chrono::steady_clock::now() < deadline &&
         !fs::exists(Path("ui-data/downloads/.ferry-other.bin.part"))) {
    std::this_thread::sleep_for(20ms);
  }
  UiReply cancelled = Call("POST", "/api/v1/downloads/" + id2 + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.raw;
  EXPECT_EQ(cancelled.body["state"], "cancelled");
  EXPECT_FALSE(fs::exists(Path("ui-data/downloads/.ferry-other.bin.part")));
  EXPECT_FALSE(fs::exists(Path("ui-data/downloads/.ferry-other.bin.part.done")));
  EXPECT_FALSE(fs::exists(Path("ui-data/downloads/other.bin")));

  UiReply history = Call("GET", "/api/v1/history");
  ASSERT_EQ(history.body["history"].size(), 2u) << history.raw;
  EXPECT_EQ(history.body["history"][0]["id"], id2);
  EXPECT_EQ(history.body["history"][0]["state"], "cancelled");
  EXPECT_EQ(history.body["history"][1]["id"], id);
  EXPECT_EQ(history.body["history"][1]["state"], "done");
}

TEST_F(PeerUiE2eTest, APeerThatSendsBadDataIsShownDroppedWithWhy) {
  const int64_t size = 8 * kMiB;
  StartServer({{"clip.bin", size}});
  StartServer({{"clip.bin", size}});
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  const std::string sha = WaitForSearch("clip", 2);
  ASSERT_FALSE(sha.empty());
  // The second peer's copy changes behind its index: it serves bad chunks.
  AlterBehindTheIndex(Path("share1/clip.bin"));

  UiReply started = Call("POST", "/api/v1/downloads", json{{"sha256", sha}}.dump());
  ASSERT_EQ(started.status, 201) << started.raw;
  json done = WaitForState(started.body["id"], "done");
  EXPECT_EQ(Sha256File(Path("ui-data/downloads/clip.bin")), sha);
  ASSERT_EQ(done["peers"].size(), 2u) << done.dump();
  int dropped = 0;
  for (const auto& p : done["peers"]) {
    if (p["state"] == "dropped") {
      ++dropped;
      EXPECT_NE(p["why"].get<std::string>().find("chunk"), std::string::npos) << p.dump();
      EXPECT_EQ(p["bytes"], 0) << p.dump();
    } else {
      EXPECT_EQ(p["state"], "active") << p.dump();
      EXPECT_EQ(p["bytes"], size) << p.dump();
    }
  }
  EXPECT_EQ(dropped, 1) << done.dump();
  UiReply metrics = Call("GET", "/metrics");
  EXPECT_NE(metrics.raw.find("ferry_peer_peers_dropped_total 1\n"), std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("ferry_peer_chunks_rejected_total 1\n"), std::string::npos)
      << metrics.raw;
  // The history names the honest peer alone as a source.
  json entry = Call("GET", "/api/v1/history").body["history"][0];
  ASSERT_EQ(entry["sources"].size(), 1u) << entry.dump();
  EXPECT_EQ(entry["sources"][0]["bytes"], size);
}

TEST_F(PeerUiE2eTest, SharesUploadsAndTheNetworkAreShown) {
  const int64_t size = 8 * kMiB;
  // Bob's UI peer shares the file; alice's peer (a fetcher) takes it slowly.
  WriteRandomFile(Path("ui-share/song.ogg"), static_cast<size_t>(size), 3);
  StartUi({"--limit-rate", "2M"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sha = WaitForSearch("song", 1);
  UiReply shares = Call("GET", "/api/v1/shares");
  ASSERT_EQ(shares.status, 200) << shares.raw;
  ASSERT_EQ(shares.body["files"].size(), 1u) << shares.raw;
  EXPECT_EQ(shares.body["files"][0]["path"], "song.ogg");
  EXPECT_EQ(shares.body["files"][0]["sha256"], sha);
  const int64_t hashed_at = shares.body["files"][0]["hashed_at"];
  EXPECT_LE(std::abs(hashed_at - static_cast<int64_t>(std::time(nullptr))), 120) << shares.raw;
  EXPECT_EQ(shares.body["indexing"]["files_pending"], 0);

  StartServer({});
  ASSERT_FALSE(HasFatalFailure());
  UiReply peers = Call("GET", "/api/v1/peers");
  ASSERT_EQ(peers.status, 200) << peers.raw;
  ASSERT_EQ(peers.body["peers"].size(), 2u) << peers.raw;
  int self = 0;
  std::string bobs;
  for (const auto& p : peers.body["peers"]) {
    if (p["self"] == true) {
      ++self;
      bobs = p["peer_id"];
      EXPECT_EQ(p["user"], "bob");
      EXPECT_EQ(p["files"], 1);
    }
  }
  EXPECT_EQ(self, 1);
  UiReply files = Call("GET", "/api/v1/peers/" + bobs + "/files");
  ASSERT_EQ(files.status, 200) << files.raw;
  ASSERT_EQ(files.body["files"].size(), 1u);
  EXPECT_EQ(files.body["files"][0]["sha256"], sha);

  // Alice fetches it; the upload shows with her name while it runs.
  Child fetch = Child::Spawn({"fetch", "--sha256", sha, "--to", Path("share0")}, Env("alice"),
                             Path("fetch.out"), Path("fetch.err"));
  auto deadline = std::chrono::steady_clock::now() + 60s * kSlowdown;
  json upload;
  while (std::chrono::steady_clock::now() < deadline && fetch.Running()) {
    json uploads = Call("GET", "/api/v1/shares").body["uploads"];
    if (!uploads.empty() && uploads[0]["bytes"].get<int64_t>() > 0) {
      upload = uploads[0];
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(upload.is_null()) << ReadFile(Path("fetch.err"));
  EXPECT_EQ(upload["user"], "alice");
  EXPECT_EQ(upload["sha256"], sha);
  EXPECT_EQ(upload["name"], "song.ogg");
  EXPECT_EQ(fetch.Wait(120s * kSlowdown), 0) << ReadFile(Path("fetch.err"));
  UiReply metrics = Call("GET", "/metrics");
  EXPECT_NE(metrics.raw.find("ferry_peer_served_bytes_total " + std::to_string(size) + "\n"),
            std::string::npos)
      << metrics.raw;
  EXPECT_NE(metrics.raw.find("ferry_peer_shared_files 1\n"), std::string::npos) << metrics.raw;
}

TEST_F(PeerUiE2eTest, ADirectoryThatCannotBeReachedIsSaidSo) {
  StartUi();
  ASSERT_FALSE(HasFatalFailure());
  // A search first: the UI's session to the directory is then open, and its
  // next request is written to a connection the directory has gone from.
  ASSERT_EQ(Call("GET", "/api/v1/search?q=anything").status, 200);
  directory_.Stop();
  UiReply search = Call("GET", "/api/v1/search?q=anything");
  EXPECT_EQ(search.status, 503) << search.raw;
  EXPECT_NE(search.raw.find("cannot reach the directory"), std::string::npos) << search.raw;
  UiReply start = Call("POST", "/api/v1/downloads", json{{"sha256", std::string(64, 'b')}}.dump());
  EXPECT_EQ(start.status, 503) << start.raw;
  // What the peer knows by itself still answers, and the peer runs on.
  EXPECT_EQ(Call("GET", "/api/v1/shares").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/history").status, 200);
  EXPECT_TRUE(ui_.child.Running()) << ReadFile(ui_.log);
}

}  // namespace
}  // namespace ferry::e2e
