// Slows down password guessing. After `free_attempts` consecutive failures for
// a user name, or from an address, further attempts for that key are refused
// until a delay has passed; the delay doubles with each further failure up to
// `max_delay`. A success clears the user's count; an address's count is
// forgotten after `forget_after` without failures. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/status.h"
#include "server/sessions.h"

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

  // OK if an attempt may proceed now; RESOURCE_EXHAUSTED saying how long to wait otherwise.
  Status Check(const std::string& user, const std::string& address);
  // Records a failure; returns the number of consecutive failures for the user.
  int RecordFailure(const std::string& user, const std::string& address);
  void RecordSuccess(const std::string& user);

 private:
  struct Entry {
    int failures = 0;
    std::chrono::steady_clock::time_point last_failure;
    std::chrono::steady_clock::time_point next_allowed;
  };
  void Fail(Entry& e, std::chrono::steady_clock::time_point now);
  void ForgetOld(std::chrono::steady_clock::time_point now);  // REQUIRES: mu_ held

  const ThrottlePolicy policy_;
  const SteadyClock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> users_;      // GUARDED_BY(mu_)
  std::unordered_map<std::string, Entry> addresses_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
