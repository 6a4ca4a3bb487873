// The announcer against a fake directory (cpp-httplib on loopback) that keeps
// one peer's files the way the real one does and fails when a test says so.
#include "peer/announcer.h"

#include <httplib.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "directory_api/wire_json.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using dirapi::Announcement;

constexpr auto kSoon = 10s;

class FakeDirectory {
 public:
  FakeDirectory() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    server_.Post("/api/v1/login", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++logins;
      token_ = std::string(63, 'f') + static_cast<char>('0' + logins % 10);
      Reply(res, 200,
            {{"token", token_}, {"username", "alice"}, {"expires_at", int64_t{1790000000}}});
    });
    server_.Post("/api/v1/announce", [this](const httplib::Request& req, httplib::Response& res) {
      OnAnnounce(req, res);
    });
    server_.Post("/api/v1/heartbeat", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (!Allowed(req, res)) return;
      auto body = nlohmann::json::parse(req.body);
      if (body.value("peer_id", "") != peer_) return Reply(res, 404, {{"error", "unknown peer"}});
      ++heartbeats;
      Lease(res);
    });
    server_.Delete(R"(/api/v1/peers/([0-9a-f]+))",
                   [this](const httplib::Request& req, httplib::Response& res) {
                     std::lock_guard lock(mu_);
                     if (!Allowed(req, res)) return;
                     ++deletes;
                     if (req.matches[1] != peer_) return Reply(res, 404, {{"error", "unknown"}});
                     Forget();
                     Reply(res, 200, nlohmann::json::object());
                   });
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeDirectory() {
    server_.stop();
    thread_.join();
  }

  std::unique_ptr<dirclient::DirectoryClient> Client() {
    dirclient::DirectoryClientOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port_);
    o.timeout = 5s;
    auto c = dirclient::DirectoryClient::OpenTrusted(o, {});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_TRUE((*c)->Login("alice", "alice-password").ok());
    return std::move(c).value();
  }

  // Waits until `done` holds of the fake's state (called under its lock).
  bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = kSoon) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, done);
  }
  template <typename F>
  auto Locked(F f) {
    std::lock_guard lock(mu_);
    return f();
  }
  // The directory forgets the peer, as when it missed its heartbeats.
  void Forget() {
    peer_.clear();
    files.clear();
  }

  // All GUARDED_BY(mu_), read through Locked or WaitFor.
  std::vector<Announcement> announces;              // every announce accepted, in order
  std::map<std::string, dirapi::SharedFile> files;  // the online peer's, by path
  int whole_announces = 0, deltas = 0, heartbeats = 0, deletes = 0, logins = 0;
  int heartbeat_seconds = 10;
  int fail_next = 0;        // answer this many of the next calls 503
  int unauthenticated = 0;  // answer this many of the next calls 401
  std::string peer_;        // the online peer ("" none)

 private:
  static void Reply(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }
  void Lease(httplib::Response& res) {
    Reply(res, 200, {{"peer_id", peer_}, {"heartbeat_seconds", heartbeat_seconds}});
    cv_.notify_all();
  }
  // Applies the injected failures and the token check. REQUIRES: mu_ held.
  bool Allowed(const httplib::Request& req, httplib::Response& res) {
    if (unauthenticated > 0 || req.get_header_value("Authorization") != "Bearer " + token_) {
      unauthenticated = std::max(0, unauthenticated - 1);
      Reply(res, 401, {{"error", "log in first"}});
      return false;
    }
    if (fail_next > 0) {
      --fail_next;
      Reply(res, 503, {{"error", "busy"}});
      cv_.notify_all();
      return false;
    }
    return true;
  }
  void OnAnnounce(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!Allowed(req, res)) return;
    auto decoded = dirapi::DecodeAnnouncement(nlohmann::json::parse(req.body),
                                              [](std::string_view) { return Status::Ok(); });
    if (!decoded.ok()) return Reply(res, 400, {{"error", decoded.status().message()}});
    const Announcement& a = *decoded;
    if (a.peer_id) {
      if (*a.peer_id != peer_) return Reply(res, 404, {{"error", "unknown peer"}});
      for (const auto& path : a.removed) files.erase(path);
      for (const auto& f : a.added) files[f.path] = f;
      ++deltas;
    } else {
      peer_ = fmt::format("{:032x}", ++next_peer_);
      files.clear();
      for (const auto& f : *a.files) files[f.path] = f;
      ++whole_announces;
    }
    announces.push_back(a);
    Lease(res);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  httplib::Server server_;
  int port_ = 0;
  int next_peer_ = 0;
  std::string token_;
  std::thread thread_;
};

SharedFile File(const std::string& path, int seed = 1) {
  SharedFile f;
  f.path = path;
  f.size = 100 + seed;
  f.mtime_ns = 1'790'000'000'123'456'789 + seed;
  f.inode = 7;
  f.sha256 = fmt::format("{:064x}", 1000 + seed);
  f.chunk_sha256s = {f.sha256};
  f.chunk_root = fmt::format("{:064x}", 2000 + seed);
  return f;
}

// A share index for the announcer's whole announces: what the test says it holds.
class FakeIndex {
 public:
  void Put(const SharedFile& f) {
    std::lock_guard lock(mu_);
    files_[f.path] = f;
  }
  void Erase(const std::string& path) {
    std::lock_guard lock(mu_);
    files_.erase(path);
  }
  Announcer::ListFiles Lister() {
    return [this]() -> Result<std::vector<SharedFile>> {
      std::lock_guard lock(mu_);
      std::vector<SharedFile> out;
      for (const auto& [path, f] : files_) out.push_back(f);
      return out;
    };
  }

 private:
  std::mutex mu_;
  std::map<std::string, SharedFile> files_;
};

AnnouncerOptions Options() {
  AnnouncerOptions o;
  o.address = "127.0.0.1:7443";
  o.cert_sha256 = std::string(64, 'c');
  o.delta_interval = 300ms;
  o.min_backoff = 20ms;
  o.max_backoff = 200ms;
  return o;
}

class AnnouncerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Announcer> Make(AnnouncerOptions o = Options()) {
    return std::make_unique<Announcer>(
        directory_.Client(), index_.Lister(),
        [](dirclient::DirectoryClient& c) { return c.Login("alice", "alice-password").status(); },
        std::move(o));
  }
  bool HasFiles(size_t n) {
    return directory_.WaitFor([&] { return directory_.files.size() == n; });
  }

  FakeDirectory directory_;
  FakeIndex index_;
};

TEST(ToAnnouncedTest, CarriesTheChunkRootAndMtimeInSeconds) {
  SharedFile f = File("music/song.ogg", 5);
  dirapi::SharedFile a = ToAnnounced(f);
  EXPECT_EQ(a.path, "music/song.ogg");
  EXPECT_EQ(a.size, 105);
  EXPECT_EQ(a.sha256, f.sha256);
  EXPECT_EQ(a.chunk_root, f.chunk_root);
  EXPECT_EQ(a.mtime, 1'790'000'000);  // rounded down
  f.mtime_ns = -5;
  EXPECT_EQ(ToAnnounced(f).mtime, 0);  // the wire takes no time before 1970
}

TEST_F(AnnouncerTest, AnnouncesAddressFingerprintAndEveryFileFirst) {
  index_.Put(File("a.txt", 1));
  index_.Put(File("dir/b.txt", 2));
  auto announcer = Make();
  announcer->Start();
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  directory_.Locked([&] {
    ASSERT_EQ(directory_.announces.size(), 1u);
    const Announcement& a = directory_.announces[0];
    EXPECT_FALSE(a.peer_id);
    EXPECT_EQ(a.address, "127.0.0.1:7443");
    EXPECT_EQ(a.cert_sha256, std::string(64, 'c'));
    ASSERT_TRUE(a.files);
    ASSERT_EQ(a.files->size(), 2u);
    EXPECT_EQ((*a.files)[1].path, "dir/b.txt");
    EXPECT_EQ((*a.files)[1].chunk_root, File("dir/b.txt", 2).chunk_root);
    EXPECT_EQ((*a.files)[1].mtime, 1'790'000'000);
    EXPECT_EQ(announcer->peer_id(), directory_.peer_);
  });
}

TEST_F(AnnouncerTest, ChangesGoAsBatchedDeltasAndTheNewestOfAPathWins) {
  index_.Put(File("keep.txt"));
  index_.Put(File("change.txt", 1));
  index_.Put(File("delete.txt"));
  auto announcer = Make();
  announcer->Start();
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  for (int i = 0; i < 100; ++i) announcer->Indexed(File(fmt::format("new/{:03}", i), i));
  announcer->Removed(File("change.txt", 1));
  announcer->Indexed(File("change.txt", 2));
  announcer->Removed(File("delete.txt"));
  announcer->Indexed(File("brief.txt"));
  announcer->Removed(File("brief.txt"));
  ASSERT_TRUE(HasFiles(102));
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  directory_.Locked([&] {
    EXPECT_EQ(directory_.files.count("delete.txt"), 0u);
    EXPECT_EQ(directory_.files.count("brief.txt"), 0u);
    EXPECT_EQ(directory_.files["change.txt"].sha256, File("change.txt", 2).sha256);
    // A first delta as soon as the changes begin, and the rest together
    // after delta_interval: not one request per change.
    EXPECT_LE(directory_.deltas, 3);
    EXPECT_EQ(directory_.whole_announces, 1);
  });
}

TEST_F(AnnouncerTest, HeartbeatsAtTheIntervalTheLeaseGives) {
  directory_.Locked([&] { directory_.heartbeat_seconds = 1; });
  auto announcer = Make();
  announcer->Start();
  ASSERT_TRUE(directory_.WaitFor([&] { return directory_.heartbeats >= 2; }));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(directory_.WaitFor([&] { return directory_.heartbeats >= 4; }));
  // Two more heartbeats take about two intervals: neither a burst nor silence.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  // The announcer counts a heartbeat once its answer is in.
  auto deadline = std::chrono::steady_clock::now() + kSoon;
  while (announcer->stats().heartbeats < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GE(announcer->stats().heartbeats, 4);
}

TEST_F(AnnouncerTest, APeerTheDirectoryForgotIsAnnouncedAfresh) {
  directory_.Locked([&] { directory_.heartbeat_seconds = 1; });
  index_.Put(File("a.txt"));
  auto announcer = Make();
  announcer->Start();
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  std::string first = announcer->peer_id();
  // Forgotten: the next heartbeat gets 404 and the whole list goes again,
  // with what the index holds now.
  index_.Put(File("b.txt"));
  directory_.Locked([&] { directory_.Forget(); });
  ASSERT_TRUE(HasFiles(2));
  EXPECT_NE(announcer->peer_id(), first);
  EXPECT_EQ(directory_.Locked([&] { return directory_.whole_announces; }), 2);

  // The same when a delta is the first to hear of it.
  directory_.Locked([&] {
    directory_.heartbeat_seconds = 1000;
    directory_.Forget();
  });
  index_.Put(File("c.txt"));
  announcer->Indexed(File("c.txt"));
  ASSERT_TRUE(HasFiles(3));
  EXPECT_EQ(directory_.Locked([&] { return directory_.whole_announces; }), 3);
}

TEST_F(AnnouncerTest, FailedCallsAreRetriedWithoutLosingChanges) {
  auto announcer = Make();
  directory_.Locked([&] { directory_.fail_next = 3; });
  announcer->Start();
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  directory_.Locked([&] { directory_.fail_next = 4; });
  for (int i = 0; i < 10; ++i) {
    announcer->Indexed(File(fmt::format("f{}", i), i));
    std::this_thread::sleep_for(30ms);  // changes keep coming while calls fail
  }
  ASSERT_TRUE(HasFiles(10));
  EXPECT_GE(announcer->stats().failures, 7);
  EXPECT_EQ(directory_.Locked([&] { return directory_.whole_announces; }), 1);
}

TEST_F(AnnouncerTest, AnEndedSessionLogsInAgain) {
  directory_.Locked([&] { directory_.heartbeat_seconds = 1; });
  auto announcer = Make();
  announcer->Start();
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  directory_.Locked([&] { directory_.unauthenticated = 1; });
  ASSERT_TRUE(
      directory_.WaitFor([&] { return directory_.logins >= 2 && directory_.heartbeats >= 1; }));
  EXPECT_EQ(announcer->stats().logins, 1);
}

TEST_F(AnnouncerTest, WithdrawRemovesThePeerAndStopsTalking) {
  auto announcer = Make();
  announcer->Start();
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  ASSERT_TRUE(announcer->Withdraw().ok());
  auto [deletes, peer, calls] = directory_.Locked([&] {
    return std::make_tuple(directory_.deletes, directory_.peer_,
                           directory_.announces.size() + directory_.heartbeats);
  });
  EXPECT_EQ(deletes, 1);
  EXPECT_EQ(peer, "");
  EXPECT_EQ(announcer->peer_id(), "");
  announcer->Indexed(File("late.txt"));
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(directory_.Locked([&] { return directory_.announces.size() + directory_.heartbeats; }),
            calls);
  EXPECT_TRUE(announcer->Withdraw().ok());  // once only
  EXPECT_EQ(directory_.Locked([&] { return directory_.deletes; }), 1);
}

TEST_F(AnnouncerTest, ALongListGoesAsAnAnnounceAndDeltas) {
  for (int i = 0; i < 35; ++i) index_.Put(File(fmt::format("f{:02}", i), i));
  auto o = Options();
  o.max_files_per_request = 10;
  auto announcer = Make(o);
  announcer->Start();
  ASSERT_TRUE(HasFiles(35));
  ASSERT_TRUE(announcer->WaitUntilInStep(kSoon));
  directory_.Locked([&] {
    ASSERT_GE(directory_.announces.size(), 4u);
    EXPECT_EQ(directory_.announces[0].files->size(), 10u);
    for (const auto& a : directory_.announces) EXPECT_LE(a.added.size(), 10u);
    EXPECT_EQ(directory_.whole_announces, 1);
  });
}

}  // namespace
}  // namespace ferry
