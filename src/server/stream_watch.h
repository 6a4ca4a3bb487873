// Watches the HTTP/2 streams of every connection the gRPC server holds and
// cuts a connection whose client opens and resets streams (a "rapid reset"
// storm). gRPC 1.51 creates a call for every stream a client opens, even one
// reset at once, and frees it only later: a storm on two connections grows the
// server by hundreds of MB a second while no handler ever sees a call. So the
// watch reads each connection's stream counters from gRPC's channelz every
// `period`, and cuts through the ConnectionGate (which then cuts every
// connection from the same source and refuses it for its penalty time) a
// connection that has more than `max_open` streams open (started and not yet
// ended: a client may have only the advertised maximum open, so more means it
// reset streams the server still holds), or that within one period had more
// than `max_failed_per_second` streams end without the server's end of stream
// (resets, or streams refused as over the maximum). The rate of calls alone
// is no reason to cut: an honest client may be busy.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "net/connection_gate.h"

namespace ferry {

struct StreamLimits {
  std::chrono::milliseconds period{100};
  int64_t max_failed_per_second = 1000;
  int64_t max_open = 200;  // twice the default --max-streams-per-connection
};

class StreamWatch {
 public:
  StreamWatch(ConnectionGate* gate, StreamLimits limits);
  ~StreamWatch();  // stops the watch
  StreamWatch(const StreamWatch&) = delete;
  StreamWatch& operator=(const StreamWatch&) = delete;

  // Reads every connection's counters once and cuts the abusive ones; the
  // watch's thread calls it every period. Returns how many it cut.
  int CheckOnce();

 private:
  struct Seen {
    int64_t failed = 0;
    std::chrono::steady_clock::time_point at;
    uint64_t pass = 0;
    bool cut = false;
  };
  void Run();

  ConnectionGate* gate_;
  const StreamLimits limits_;
  std::unordered_map<int64_t, Seen> seen_;  // by channelz socket id; the watch thread only
  uint64_t pass_ = 0;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace ferry
