#include "net/daemon.h"

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include <spdlog/spdlog.h>

namespace ferry {
namespace {

const char* SignalName(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

// How often the watcher looks whether serving has ended, when no signal comes.
constexpr timespec kPoll{0, 200'000'000};

}  // namespace

Daemon::Daemon() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

void Daemon::WaitForSignal(const DaemonStop& how) {
  int sig = 0;
  sigwait(&signals_, &sig);
  spdlog::info("received {}: {}", SignalName(sig), how.what_happens);
}

void Daemon::Run(const std::function<void()>& serve, const std::function<void()>& stop,
                 const DaemonStop& how) {
  std::atomic<bool> served{false};
  std::thread stopper;
  std::thread watcher([&] {
    while (!served) {
      int sig = sigtimedwait(&signals_, nullptr, &kPoll);
      if (sig <= 0) continue;
      if (!stopper.joinable()) {
        spdlog::info("received {}: {}", SignalName(sig), how.what_happens);
        stopper = std::thread(stop);
      } else if (how.second_signal_exits) {
        // Nothing is lost that a graceful stop would keep: the daemon says
        // so when it offers this.
        spdlog::warn("second signal: stopping now");
        std::_Exit(130);
      }
    }
  });
  serve();
  served = true;
  watcher.join();
  if (stopper.joinable()) stopper.join();
}

}  // namespace ferry
