#include "net/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

namespace ferry {
namespace {

// Each test runs its daemon in a child process (a death test), so that the
// signals it blocks and the ones it is sent touch nothing else.
class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Sends `sig` to this process `times` times, 100 ms apart, from a thread
// started after the Daemon (so with the signals blocked).
std::thread SignalLater(int sig, int times) {
  return std::thread([sig, times] {
    for (int i = 0; i < times; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::kill(::getpid(), sig);
    }
  });
}

// Exits 0 only if `stop` ran, off the serving thread, and Run returned.
void ServeUntilStopped(int sig) {
  Daemon daemon;
  std::atomic<bool> stop_called{false};
  std::thread::id serving_thread;
  std::thread::id stopping_thread;
  std::thread sender = SignalLater(sig, 1);
  daemon.Run(
      [&] {
        serving_thread = std::this_thread::get_id();
        while (!stop_called) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      },
      [&] {
        stopping_thread = std::this_thread::get_id();
        stop_called = true;
      });
  sender.join();
  std::_Exit(stop_called && serving_thread != stopping_thread ? 0 : 3);
}

TEST_F(DaemonTest, SigtermStopsServingFromAnotherThread) {
  EXPECT_EXIT(ServeUntilStopped(SIGTERM), ::testing::ExitedWithCode(0), "");
}

TEST_F(DaemonTest, SigintStopsServingToo) {
  EXPECT_EXIT(ServeUntilStopped(SIGINT), ::testing::ExitedWithCode(0), "");
}

// A stop that never finishes: the second signal ends the process only when
// the daemon asks for that.
void SlowStop(bool second_signal_exits) {
  Daemon daemon;
  std::atomic<bool> released{false};
  std::thread sender = SignalLater(SIGTERM, 2);
  DaemonStop how;
  how.second_signal_exits = second_signal_exits;
  std::thread releaser;
  daemon.Run(
      [&] {
        while (!released) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      },
      [&] {
        // Long enough for the second signal to arrive while stopping.
        std::this_thread::sleep_for(std::chrono::milliseconds(800));
        released = true;
      },
      how);
  sender.join();
  std::_Exit(5);
}

TEST_F(DaemonTest, SecondSignalExitsAtOnceWhenAsked) {
  EXPECT_EXIT(SlowStop(true), ::testing::ExitedWithCode(130), "");
}

TEST_F(DaemonTest, SecondSignalWaitsForTheGracefulStopOtherwise) {
  EXPECT_EXIT(SlowStop(false), ::testing::ExitedWithCode(5), "");
}

TEST_F(DaemonTest, WaitForSignalReturnsOnTheSignal) {
  auto wait = [] {
    Daemon daemon;
    std::thread sender = SignalLater(SIGTERM, 1);
    daemon.WaitForSignal();
    sender.join();
    std::_Exit(4);
  };
  EXPECT_EXIT(wait(), ::testing::ExitedWithCode(4), "");
}

}  // namespace
}  // namespace ferry
