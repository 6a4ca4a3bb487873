#include "peer/share_watcher.h"

#include <sys/inotify.h>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ScratchDir;

// Deadlines for what must happen; generous, since the machine may be busy.
constexpr auto kSoon = 10s;

// Counts on_change calls and lets a test wait for them.
class Calls {
 public:
  ShareWatcher::OnChange Callback() {
    return [this](std::stop_token) {
      std::lock_guard lock(mu_);
      ++count_;
      cv_.notify_all();
    };
  }
  int count() {
    std::lock_guard lock(mu_);
    return count_;
  }
  // True once there have been at least `n` calls.
  bool WaitFor(int n, std::chrono::milliseconds timeout = kSoon) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;  // GUARDED_BY(mu_)
};

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// Polls `done` until it holds or `timeout` passes.
template <typename F>
bool Eventually(F done, std::chrono::milliseconds timeout = kSoon) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Sends the default logger to a string for the life of the object.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

ShareWatcherOptions Fast() {
  ShareWatcherOptions o;
  o.settle = 200ms;
  o.max_delay = 60s;
  o.rescan_interval = 100ms;
  return o;
}

TEST(ShareWatcherTest, CallsAtOnceThenAfterAChangeSettles) {
  ScratchDir share;
  Calls calls;
  auto w = ShareWatcher::Start(share.path(), Fast(), calls.Callback());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->mode(), WatchMode::kInotify);
  EXPECT_EQ((*w)->watches(), 1u);
  ASSERT_TRUE(calls.WaitFor(1));  // the initial scan
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(calls.count(), 1) << "nothing changed";
  Write(share.File("a.txt"), "hello");
  ASSERT_TRUE(calls.WaitFor(2));
  fs::remove(share.File("a.txt"));
  ASSERT_TRUE(calls.WaitFor(3));
}

TEST(ShareWatcherTest, AFileBeingWrittenIsReportedOnlyOnceItStops) {
  ScratchDir share;
  Calls calls;
  auto o = Fast();
  o.settle = 600ms;  // far longer than the gaps between the writes below
  auto w = ShareWatcher::Start(share.path(), o, calls.Callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(calls.WaitFor(1));
  {
    std::ofstream out(share.File("growing.bin"), std::ios::binary);
    for (int i = 0; i < 60; ++i) {
      out << std::string(1000, 'x') << std::flush;
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(calls.count(), 1) << "reported while still being written";
  }
  ASSERT_TRUE(calls.WaitFor(2));
}

TEST(ShareWatcherTest, ANeverQuietShareIsReportedAfterMaxDelay) {
  ScratchDir share;
  Calls calls;
  auto o = Fast();
  o.settle = 2s;
  o.max_delay = 300ms;
  auto w = ShareWatcher::Start(share.path(), o, calls.Callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(calls.WaitFor(1));
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    std::ofstream out(share.File("log.txt"), std::ios::binary);
    while (writing) {
      out << "line\n" << std::flush;
      std::this_thread::sleep_for(20ms);
    }
  });
  EXPECT_TRUE(calls.WaitFor(2));
  writing = false;
  writer.join();
}

TEST(ShareWatcherTest, NewSubfoldersAreWatchedAndRemovedOnesDropped) {
  ScratchDir share;
  fs::create_directories(share.File("old/inner"));
  Calls calls;
  auto w = ShareWatcher::Start(share.path(), Fast(), calls.Callback());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->watches(), 3u);
  ASSERT_TRUE(calls.WaitFor(1));

  fs::create_directories(share.File("new/a/b"));
  ASSERT_TRUE(Eventually([&] { return (*w)->watches() == 6; })) << (*w)->watches();
  ASSERT_TRUE(calls.WaitFor(2));
  int before = calls.count();
  // A change deep in the new tree is seen.
  Write(share.File("new/a/b/deep.txt"), "deep");
  ASSERT_TRUE(calls.WaitFor(before + 1));

  fs::remove_all(share.File("old"));
  EXPECT_TRUE(Eventually([&] { return (*w)->watches() == 4; })) << (*w)->watches();
}

TEST(ShareWatcherTest, AFolderMovedOutIsNoLongerWatchedAndOneMovedInIs) {
  ScratchDir share;
  ScratchDir outside;
  fs::create_directories(share.File("leaving/sub"));
  fs::create_directories(outside.File("arriving/sub"));
  Calls calls;
  auto w = ShareWatcher::Start(share.path(), Fast(), calls.Callback());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->watches(), 3u);
  ASSERT_TRUE(calls.WaitFor(1));

  fs::rename(share.File("leaving"), outside.File("left"));
  ASSERT_TRUE(Eventually([&] { return (*w)->watches() == 1; })) << (*w)->watches();
  ASSERT_TRUE(calls.WaitFor(2));
  std::this_thread::sleep_for(400ms);
  int settled = calls.count();
  Write(outside.File("left/sub/x.txt"), "not in the share any more");
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(calls.count(), settled) << "a change outside the share was reported";

  fs::rename(outside.File("arriving"), share.File("arrived"));
  ASSERT_TRUE(Eventually([&] { return (*w)->watches() == 3; })) << (*w)->watches();
  int now = calls.count();
  Write(share.File("arrived/sub/y.txt"), "in the share");
  EXPECT_TRUE(calls.WaitFor(now + 1));
}

TEST(ShareWatcherTest, ThePeersOwnFilesAreNotChanges) {
  ScratchDir share;
  Calls calls;
  auto w = ShareWatcher::Start(share.path(), Fast(), calls.Callback());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(calls.WaitFor(1));
  Write(share.File(".ferry-song.ogg.part"), "partial");
  fs::remove(share.File(".ferry-song.ogg.part"));
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(calls.count(), 1);
  // The same events on a shared name are changes: the test can fail.
  Write(share.File("song.ogg"), "whole");
  EXPECT_TRUE(calls.WaitFor(2));
}

TEST(ShareWatcherTest, ReachingTheWatchLimitFallsBackToPeriodicRescans) {
  ScratchDir share;
  for (int i = 0; i < 5; ++i) fs::create_directories(share.File("d" + std::to_string(i)));
  CapturedLog log;
  auto o = Fast();
  int allowed = 3;
  o.add_watch = [&allowed](int fd, const char* path, uint32_t mask) {
    if (allowed-- <= 0) {
      errno = ENOSPC;
      return -1;
    }
    return ::inotify_add_watch(fd, path, mask);
  };
  Calls calls;
  auto w = ShareWatcher::Start(share.path(), o, calls.Callback());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->mode(), WatchMode::kPeriodic);
  EXPECT_EQ((*w)->watches(), 0u);
  // Rescans come every rescan_interval, with no change at all.
  EXPECT_TRUE(calls.WaitFor(4));
  std::string text = log.text();
  EXPECT_NE(text.find("inotify watch limit is reached after 3 folders"), std::string::npos) << text;
  EXPECT_NE(text.find("fs.inotify.max_user_watches"), std::string::npos) << text;
  EXPECT_NE(text.find("every 0.1 s"), std::string::npos) << text;
  (*w)->Stop();
  size_t warnings = 0;
  for (size_t at = text.find("warning"); at != std::string::npos; at = text.find("warning", at + 1))
    ++warnings;
  EXPECT_EQ(warnings, 1u) << text;
}

TEST(ShareWatcherTest, ReachingTheWatchLimitLaterFallsBackToo) {
  ScratchDir share;
  CapturedLog log;
  auto o = Fast();
  std::atomic<bool> full{false};
  o.add_watch = [&full](int fd, const char* path, uint32_t mask) {
    if (full) {
      errno = ENOSPC;
      return -1;
    }
    return ::inotify_add_watch(fd, path, mask);
  };
  Calls calls;
  auto w = ShareWatcher::Start(share.path(), o, calls.Callback());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->mode(), WatchMode::kInotify);
  ASSERT_TRUE(calls.WaitFor(1));
  full = true;
  fs::create_directories(share.File("new"));
  ASSERT_TRUE(Eventually([&] { return (*w)->mode() == WatchMode::kPeriodic; }));
  EXPECT_TRUE(calls.WaitFor(4));
  EXPECT_NE(log.text().find("max_user_watches"), std::string::npos) << log.text();
}

TEST(ShareWatcherTest, WithoutInotifyItRescansPeriodically) {
  ScratchDir share;
  auto o = Fast();
  o.use_inotify = false;
  Calls calls;
  auto w = ShareWatcher::Start(share.path(), o, calls.Callback());
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->mode(), WatchMode::kPeriodic);
  EXPECT_TRUE(calls.WaitFor(3));
}

TEST(ShareWatcherTest, StopEndsARunningCallbackThroughItsToken) {
  ScratchDir share;
  std::atomic<bool> entered{false}, saw_stop{false};
  auto w = ShareWatcher::Start(share.path(), Fast(), [&](std::stop_token stop) {
    entered = true;
    while (!stop.stop_requested()) std::this_thread::sleep_for(5ms);
    saw_stop = true;
  });
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(Eventually([&] { return entered.load(); }));
  (*w)->Stop();
  EXPECT_TRUE(saw_stop);
  (*w)->Stop();  // idempotent
}

TEST(ShareWatcherTest, AMissingShareIsNotFound) {
  ScratchDir dir;
  Calls calls;
  auto w = ShareWatcher::Start(dir.File("missing"), Fast(), calls.Callback());
  EXPECT_EQ(w.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace ferry
