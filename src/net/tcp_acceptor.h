// Listens on a host:port and accepts TCP connections on its own thread, so a
// server can decide which connections it takes before doing any protocol work
// on them: each accepted connection goes through a ConnectionGate, and only
// admitted ones reach the handler, which then owns the descriptor. Refused
// connections are reset at once (no TIME_WAIT kept on the server). When the
// process runs out of descriptors, a spare one is given up to accept and reset
// the waiting connection, so the listen queue never fills with connections
// nobody answers; that is logged as an error. If accepting fails for another
// reason for longer than `give_up_after`, `on_fatal` is called once.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/host_port.h"
#include "core/status.h"
#include "core/unique_fd.h"
#include "net/connection_gate.h"

namespace ferry {

class TcpAcceptor {
 public:
  using Handler = std::function<void(UniqueFd fd, const std::string& endpoint)>;

  struct Options {
    std::chrono::milliseconds sweep_interval{500};
    std::chrono::seconds give_up_after{30};
    std::function<void(const std::string& why)> on_fatal;
  };

  // Binds every address `address` resolves to (port 0 picks one; host "" or
  // "*" is every address, IPv6 and IPv4). Does not accept yet.
  static Result<std::unique_ptr<TcpAcceptor>> Listen(const HostPort& address, Options options);
  ~TcpAcceptor();
  TcpAcceptor(const TcpAcceptor&) = delete;
  TcpAcceptor& operator=(const TcpAcceptor&) = delete;

  int port() const { return port_; }
  // Starts the accept thread. REQUIRES: called once; `gate` and `handler`
  // outlive Stop().
  void Start(ConnectionGate* gate, Handler handler);
  // Stops accepting and closes the listening sockets; waits for the thread.
  void Stop();

 private:
  TcpAcceptor(std::vector<UniqueFd> listeners, int port, Options options);
  void Run();
  void AcceptAll(int listener);
  void NoteFailure(int err);
  void Refuse(UniqueFd fd, ConnectionGate::Verdict verdict, const std::string& source);
  void ReportRefusals(bool force);

  std::vector<UniqueFd> listeners_;
  int port_;
  Options options_;
  UniqueFd wake_;   // eventfd that Stop() signals
  UniqueFd spare_;  // given up when descriptors run out
  ConnectionGate* gate_ = nullptr;
  Handler handler_;
  std::thread thread_;
  // Refusals since the last report, by reason (the accept thread only).
  uint64_t refused_full_ = 0, refused_source_ = 0, refused_penalized_ = 0, refused_fds_ = 0;
  std::string last_refused_source_;
  std::chrono::steady_clock::time_point last_report_{};
  std::chrono::steady_clock::time_point failing_since_{};
  std::chrono::steady_clock::time_point last_failure_report_{};
  bool failing_ = false;
};

}  // namespace ferry
