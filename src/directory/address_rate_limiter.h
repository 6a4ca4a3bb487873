// Token buckets per source address, for requests anyone may send (register,
// login): each address may send `per_minute` of them at once, and earns one
// more every 60/per_minute seconds. IPv6 addresses share a bucket per /64,
// the block one subscriber is commonly given.
//
// The table is bounded: at `max_addresses` entries, those whose buckets have
// filled up again (which say nothing a new entry would not) are dropped, at
// most once a second; addresses that still find no room share one overflow
// bucket with the same rate. Many addresses at once therefore slow down new
// ones instead of growing the table. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/status.h"

namespace ferry {

class AddressRateLimiter {
 public:
  // `per_minute` 0: no limit. REQUIRES: max_addresses >= 1.
  AddressRateLimiter(int per_minute, size_t max_addresses, SteadyClock clock = RealSteadyClock());
  AddressRateLimiter(const AddressRateLimiter&) = delete;
  AddressRateLimiter& operator=(const AddressRateLimiter&) = delete;

  // Takes a token of `address`'s bucket: OK, or RESOURCE_EXHAUSTED saying
  // "wait N s before trying again" (N whole seconds, at least 1) for `what`.
  Status Take(const std::string& address, const char* what);
  // Addresses (or /64 blocks) in the table.
  size_t tracked();

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Bucket {
    double tokens = 0;
    TimePoint updated;
  };
  // The bucket's tokens at `now`, refilled since it was last updated.
  double TokensAt(const Bucket& bucket, TimePoint now) const;
  // The bucket of `key`, or the overflow bucket when there is no room
  // (REQUIRES: mu_ held).
  Bucket& BucketFor(const std::string& key, TimePoint now);

  const double capacity_;
  const double per_second_;
  const size_t max_addresses_;
  const SteadyClock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // by address or /64; GUARDED_BY(mu_)
  Bucket overflow_;                                  // GUARDED_BY(mu_)
  TimePoint last_sweep_;                             // GUARDED_BY(mu_)
};

// The key an address is limited under: IPv4 as given, IPv6 as its /64.
std::string RateLimitKey(const std::string& address);

}  // namespace ferry
