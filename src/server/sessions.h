// Logged-in sessions: bearer tokens, the client cap and the idle timeout.
//
// A session is one connected client. The table holds at most `max_clients`,
// and at most `max_sessions_per_user` of one user, so one user cannot fill the
// server; a session with no call in progress for `idle_timeout` is closed, as is any
// session older than `lifetime`. A session has at most `max_calls_per_session`
// calls in progress, so one client cannot occupy the server's threads, and a
// watched (streaming) call that makes no progress for `idle_timeout` is
// cancelled. Every `recheck_interval` the account behind a session is checked
// again, so deleting a user or changing a password ends their sessions.
// Tokens are 256-bit random values; the table keeps only their SHA-256.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/status.h"

namespace ferry {

struct SessionLimits {
  int max_clients = 64;
  std::chrono::seconds idle_timeout{100};
  std::chrono::seconds lifetime{12 * 3600};
  int max_calls_per_session = 4;
  std::chrono::seconds recheck_interval{5};
  int max_sessions_per_user = 8;
};

// True if `user` still exists with the credential (password hash) it logged in with.
using AccountCheck = std::function<bool(const std::string& user, const std::string& credential)>;

class SessionTable {
 public:
  explicit SessionTable(SessionLimits limits, SteadyClock clock = RealSteadyClock(),
                        AccountCheck account_check = nullptr);

  // A call in progress on a session; while one exists the session is not idle.
  class ActiveCall {
   public:
    ActiveCall() = default;
    ActiveCall(ActiveCall&& o) noexcept
        : table_(std::exchange(o.table_, nullptr)),
          key_(std::move(o.key_)),
          user_(std::move(o.user_)),
          id_(o.id_) {}
    ActiveCall& operator=(ActiveCall&&) = delete;
    ActiveCall(const ActiveCall&) = delete;
    ~ActiveCall();
    const std::string& user() const { return user_; }
    // A streaming call reports that it moved data (resets its stall timer).
    void Progress();

   private:
    friend class SessionTable;
    ActiveCall(SessionTable* t, std::string key, std::string user, uint64_t id)
        : table_(t), key_(std::move(key)), user_(std::move(user)), id_(id) {}
    SessionTable* table_ = nullptr;
    std::string key_;
    std::string user_;
    uint64_t id_ = 0;
  };

  // A new session for `user`, who logged in with `credential` (their password
  // hash); RESOURCE_EXHAUSTED when the server is full or `user` already has
  // `max_sessions_per_user` sessions.
  Result<std::string> Create(const std::string& user, const std::string& credential = "");
  // Checks a token and marks a call in progress; UNAUTHENTICATED if the token is
  // unknown, logged out or expired, RESOURCE_EXHAUSTED if the session already
  // has its maximum of calls. `cancel`, if given, is how the watchdog stops the
  // call when it stalls.
  Result<ActiveCall> Begin(const std::string& token, std::function<void()> cancel = nullptr);
  // Ends a session; false if the token was not live.
  bool Remove(const std::string& token);
  // Drops expired sessions and cancels stalled calls; returns sessions left.
  size_t Sweep();
  const SessionLimits& limits() const { return limits_; }
  // Sessions in the table now (expired ones count until a sweep drops them).
  size_t open() const;

 private:
  struct Call {
    std::chrono::steady_clock::time_point last_progress;
    std::function<void()> cancel;  // empty: not watched
  };
  struct Session {
    std::string user;
    std::string credential;
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point last_active;
    std::chrono::steady_clock::time_point last_checked;
    std::map<uint64_t, Call> calls;
  };
  void EndCall(const std::string& key, uint64_t id);
  void TouchCall(const std::string& key, uint64_t id);
  // Why `s` is expired at `now`, or "" if it is live. REQUIRES: mu_ held.
  std::string ExpiryReason(const Session& s, std::chrono::steady_clock::time_point now) const;
  void SweepLocked(std::chrono::steady_clock::time_point now);
  // Erases a session and its count in per_user_. REQUIRES: mu_ held.
  std::unordered_map<std::string, Session>::iterator EraseLocked(
      std::unordered_map<std::string, Session>::iterator it);

  const SessionLimits limits_;
  const SteadyClock clock_;
  const AccountCheck account_check_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;  // GUARDED_BY(mu_), keyed by SHA-256(token)
  std::unordered_map<std::string, int> per_user_;      // GUARDED_BY(mu_), sessions of each user
  // Why recently swept sessions ended, so their client is told the real reason.
  std::unordered_map<std::string, std::string> ended_;  // GUARDED_BY(mu_)
  std::deque<std::string> ended_order_;                 // GUARDED_BY(mu_), oldest first
  uint64_t next_call_id_ = 1;                           // GUARDED_BY(mu_)
};

}  // namespace ferry
