// How every ferry daemon (server, worker, directory, peer) runs until SIGINT
// or SIGTERM and then stops gracefully; `ferry fetch` stops its download the
// same way.
//
// The signals are taken synchronously by one watching thread, never by a
// serving thread: a Daemon blocks them in the thread that makes it and in
// every thread started afterwards. The block stays for the rest of the
// process, which a daemon's Run* function ends.
#pragma once

#include <signal.h>

#include <functional>
#include <string>

namespace ferry {

struct DaemonStop {
  // Logged after "received SIGTERM: " when the first signal comes.
  std::string what_happens = "stopping";
  // Whether a second signal ends the process at once (exit status 130)
  // instead of waiting for the graceful stop to finish.
  bool second_signal_exits = false;
};

class Daemon {
 public:
  // Blocks SIGINT and SIGTERM. REQUIRES: made before the daemon starts any
  // thread (those started earlier could still take a signal and die of it).
  Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs `serve` on the calling thread until it returns. The first signal
  // calls `stop` on another thread (never on the serving one); `stop` makes
  // `serve` return once the work in hand is done, and may block while it
  // waits for that. Returns after `serve` and `stop` have returned.
  void Run(const std::function<void()>& serve, const std::function<void()>& stop,
           const DaemonStop& how = {});

  // Blocks until SIGINT or SIGTERM and logs it with `how.what_happens`; for
  // a daemon whose work runs on threads of its own until it is destroyed.
  void WaitForSignal(const DaemonStop& how = {});

 private:
  sigset_t signals_;
};

}  // namespace ferry
