// Slows down password guessing. After `free_attempts` consecutive failures for
// a user name, or from an address, further attempts for that key are refused
// until a delay has passed; the delay doubles with each further failure up to
// `max_delay`. A success clears the user's count; an address's count is
// forgotten after `forget_after` without failures. Once a key is past its free
// attempts, only one attempt for it may be in progress at a time, so parallel
// guesses cannot slip through before the failures are counted. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/status.h"

namespace ferry {

struct ThrottlePolicy {
  int free_attempts = 3;
  std::chrono::milliseconds base_delay{1000};
  std::chrono::milliseconds max_delay{60'000};
  std::chrono::seconds forget_after{15 * 60};
};

class LoginThrottle {
 public:
  explicit LoginThrottle(ThrottlePolicy policy = {}, SteadyClock clock = RealSteadyClock());

  // Reserves an attempt: OK if it may proceed now, RESOURCE_EXHAUSTED saying
  // how long to wait otherwise. Every OK must be followed by exactly one
  // Succeeded() or Failed() for the same user and address.
  Status Begin(const std::string& user, const std::string& address);
  // The reserved attempt failed; returns the user's consecutive failures.
  int Failed(const std::string& user, const std::string& address);
  // The reserved attempt succeeded: the user's count is cleared.
  void Succeeded(const std::string& user, const std::string& address);
  // The reserved attempt could not be judged (a server error): release it.
  void Abandoned(const std::string& user, const std::string& address);

 private:
  struct Entry {
    int failures = 0;
    std::chrono::steady_clock::time_point last_failure;
    std::chrono::steady_clock::time_point next_allowed;
    int in_progress = 0;
  };
  void Fail(Entry& e, std::chrono::steady_clock::time_point now);
  // Why `e` may not start an attempt now, or "" (REQUIRES: mu_ held).
  std::string Refusal(const Entry& e, std::chrono::steady_clock::time_point now) const;
  void ForgetOld(std::chrono::steady_clock::time_point now);  // REQUIRES: mu_ held

  const ThrottlePolicy policy_;
  const SteadyClock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> users_;      // GUARDED_BY(mu_)
  std::unordered_map<std::string, Entry> addresses_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
