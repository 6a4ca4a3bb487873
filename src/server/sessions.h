// Logged-in sessions: bearer tokens, the client cap and the idle timeout.
//
// A session is one connected client. The table holds at most `max_clients`;
// a session with no call in progress for `idle_timeout` is closed, as is any
// session older than `lifetime`. Tokens are 256-bit random values; the table
// keeps only their SHA-256, so its memory does not hold usable credentials.
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/status.h"

namespace ferry {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;
SteadyClock RealSteadyClock();

struct SessionLimits {
  int max_clients = 64;
  std::chrono::seconds idle_timeout{100};
  std::chrono::seconds lifetime{12 * 3600};
};

class SessionTable {
 public:
  explicit SessionTable(SessionLimits limits, SteadyClock clock = RealSteadyClock());

  // A call in progress on a session; while one exists the session is not idle.
  class ActiveCall {
   public:
    ActiveCall() = default;
    ActiveCall(ActiveCall&& o) noexcept
        : table_(std::exchange(o.table_, nullptr)),
          key_(std::move(o.key_)),
          user_(std::move(o.user_)) {}
    ActiveCall& operator=(ActiveCall&&) = delete;
    ActiveCall(const ActiveCall&) = delete;
    ~ActiveCall();
    const std::string& user() const { return user_; }

   private:
    friend class SessionTable;
    ActiveCall(SessionTable* t, std::string key, std::string user)
        : table_(t), key_(std::move(key)), user_(std::move(user)) {}
    SessionTable* table_ = nullptr;
    std::string key_;
    std::string user_;
  };

  // A new session for `user`; RESOURCE_EXHAUSTED when the server is full.
  Result<std::string> Create(const std::string& user);
  // Checks a token and marks a call in progress; UNAUTHENTICATED if the token is
  // unknown, logged out or expired (the message says which, as far as is safe).
  Result<ActiveCall> Begin(const std::string& token);
  // Ends a session; false if the token was not live.
  bool Remove(const std::string& token);
  // Ends every session of `user` (account deleted or password changed).
  void RemoveUser(const std::string& user);
  // Drops expired sessions; returns how many remain.
  size_t Sweep();
  const SessionLimits& limits() const { return limits_; }

 private:
  struct Session {
    std::string user;
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point last_active;
    int active_calls = 0;
  };
  void EndCall(const std::string& key);
  // Why `s` is expired at `now`, or "" if it is live. REQUIRES: mu_ held.
  std::string ExpiryReason(const Session& s, std::chrono::steady_clock::time_point now) const;
  void SweepLocked(std::chrono::steady_clock::time_point now);

  const SessionLimits limits_;
  const SteadyClock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;  // GUARDED_BY(mu_), keyed by SHA-256(token)
};

}  // namespace ferry
