// Slows down password guessing, following the source of the guesses (as
// OpenSSH's PerSourcePenalties does) so that a third party cannot lock a user
// out:
//  - Each source (an IPv4 address, or an IPv6 /64) has `free_attempts`
//    consecutive failures; after that its attempts, for any user, are refused
//    until a delay has passed, which doubles with each further failure up to
//    `max_delay`. A source's count is forgotten after `forget_after` without
//    failures. Once a source is past its free attempts, only one of its
//    attempts may be in progress at a time, so parallel guesses cannot slip
//    through before the failures are counted.
//  - A user name is never refused by itself: a correct password from a source
//    that has not been failing always gets checked. When one user collects
//    `user_soft_cap` failures (from any sources, within `forget_after`), the
//    user is under attack: each source that then fails for that user is
//    delayed from its first failure, and may have one attempt in progress.
//  - At most `max_tracked` sources and as many user names are remembered;
//    past that the entries whose last failure is oldest are dropped first, so
//    many addresses cannot grow memory without bound.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
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
  int user_soft_cap = 10;
  size_t max_tracked = 65'536;
};

// The key a source is throttled under: an IPv4 address as it is ("1.2.3.4",
// also when written IPv4-mapped as "::ffff:1.2.3.4"), an IPv6 address as its
// /64 ("2001:db8:1:2::/64"), anything else unchanged.
std::string ThrottleSource(const std::string& address);

class LoginThrottle {
 public:
  explicit LoginThrottle(ThrottlePolicy policy = {}, SteadyClock clock = RealSteadyClock());

  // Reserves an attempt: OK if it may proceed now, RESOURCE_EXHAUSTED saying
  // how long to wait otherwise. Every OK must be followed by exactly one
  // Succeeded(), Failed() or Abandoned() for the same user and address.
  Status Begin(const std::string& user, const std::string& address);
  // The reserved attempt failed; returns the user's recent failures (from
  // all sources).
  int Failed(const std::string& user, const std::string& address);
  // The reserved attempt succeeded. The source's count stays: an account of
  // one's own does not buy more guesses at another's.
  void Succeeded(const std::string& user, const std::string& address);
  // The reserved attempt could not be judged (a server error): release it.
  void Abandoned(const std::string& user, const std::string& address);

  // How many sources and user names are remembered (for tests).
  size_t tracked_sources() const;
  size_t tracked_users() const;

 private:
  struct Source {
    int failures = 0;
    std::chrono::steady_clock::time_point last_failure;
    std::chrono::steady_clock::time_point next_allowed;
    int in_progress = 0;
  };
  struct User {
    int failures = 0;
    std::chrono::steady_clock::time_point last_failure;
  };
  using Time = std::chrono::steady_clock::time_point;

  // REQUIRES: mu_ held, for all of these.
  bool UnderAttack(const std::string& user, Time now) const;
  std::string Refusal(const Source& s, int free_attempts, Time now) const;
  Source& SourceEntry(const std::string& key, Time now);
  User& UserEntry(const std::string& user, Time now);
  void Release(const std::string& key);

  const ThrottlePolicy policy_;
  const SteadyClock clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Source> sources_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, User> users_;      // GUARDED_BY(mu_)
};

}  // namespace ferry
