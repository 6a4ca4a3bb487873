// Admission of TCP connections before any protocol work: a cap on connections
// in total and per source, and a penalty time for a source whose connection
// was cut for abuse. The gate counts a connection from Admit() until its
// descriptor is closed by whoever owns it then (a server library, say); it
// notices the close in Sweep(), which compares each counted descriptor with
// the socket it named at admission (same inode), so it never needs a hook in
// the owner. Thread-safe.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace ferry {

struct ConnectionLimits {
  int max_connections = 1024;        // admitted and not yet closed, in total
  int max_per_source = 32;           // the same, per source (see SourceOf)
  std::chrono::seconds penalty{60};  // a cut source is refused this long
  size_t max_penalized = 4096;       // penalty entries kept; the oldest go first
};

// The source a connection is counted under: the IPv4 address, or the /64
// prefix of an IPv6 address (one host usually holds a whole /64). IPv4-mapped
// IPv6 addresses count as IPv4.
std::string SourceOf(const sockaddr_storage& address);
// "192.0.2.1:5555" or "[2001:db8::1]:5555" (IPv4-mapped shown as IPv4): the
// key of one connection, as gRPC's peer string has it after "ipv4:"/"ipv6:".
std::string EndpointOf(const sockaddr_storage& address);

class ConnectionGate {
 public:
  enum class Verdict { kAdmitted, kServerFull, kSourceFull, kPenalized };

  explicit ConnectionGate(ConnectionLimits limits, SteadyClock clock = RealSteadyClock());
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  // Counts the connection on `fd` from `peer` if the limits allow it. On any
  // other verdict nothing is counted and the caller closes `fd`.
  Verdict Admit(int fd, const sockaddr_storage& peer);
  // Forgets every counted connection whose descriptor no longer names the
  // socket it named when admitted.
  void Sweep();
  // Cuts the connection whose endpoint is `endpoint` and every other counted
  // connection from its source, and refuses that source for the penalty time.
  // Cutting a connection discards what it received that its owner has not
  // read yet and shuts it down both ways. Returns how many were cut (0: no
  // such connection).
  int CutSource(const std::string& endpoint);

  struct Counts {
    int open = 0;
    int sources = 0;
    uint64_t refused = 0;  // every verdict but kAdmitted, since the start
    uint64_t cut = 0;
    uint64_t admitted = 0;  // since the start
    // `refused` by verdict: kServerFull, kSourceFull, kPenalized.
    uint64_t refused_server_full = 0;
    uint64_t refused_source_full = 0;
    uint64_t refused_penalized = 0;
  };
  Counts counts() const;
  const ConnectionLimits& limits() const { return limits_; }

 private:
  struct Connection {
    int fd;
    ino_t inode;
    std::string source;
  };
  void Forget(std::unordered_map<std::string, Connection>::iterator it);  // REQUIRES: mu_ held
  void Penalize(const std::string& source);                               // REQUIRES: mu_ held
  static void ShutDown(const Connection& c);

  const ConnectionLimits limits_;
  const SteadyClock clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Connection> connections_;  // by endpoint; GUARDED_BY(mu_)
  std::unordered_map<std::string, int> per_source_;          // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::chrono::steady_clock::time_point>
      penalized_until_;               // GUARDED_BY(mu_)
  uint64_t cut_ = 0;                  // GUARDED_BY(mu_)
  uint64_t admitted_ = 0;             // GUARDED_BY(mu_)
  uint64_t refused_server_full_ = 0;  // GUARDED_BY(mu_)
  uint64_t refused_source_full_ = 0;  // GUARDED_BY(mu_)
  uint64_t refused_penalized_ = 0;    // GUARDED_BY(mu_)
};

}  // namespace ferry
