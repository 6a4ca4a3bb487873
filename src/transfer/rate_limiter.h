// Paces a transfer to an average rate (--limit-rate).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace ferry {

// A no-op with a rate of 0. Not thread-safe: one per transfer.
class RateLimiter {
 public:
  explicit RateLimiter(int64_t bytes_per_second);
  // Accounts for `bytes` more and sleeps as needed to stay at the rate.
  void Consume(int64_t bytes);

 private:
  int64_t rate_;
  int64_t total_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// Paces several transfers together (all of a peer's uploads, say) to one
// rate; thread-safe. Each Consume takes the next slot after the ones given
// out before it and sleeps until then, outside the lock. Idle time earns no
// credit: the first bytes after a pause go at once, the rest at the rate. A
// no-op with a rate of 0.
class SharedRateLimiter {
 public:
  explicit SharedRateLimiter(int64_t bytes_per_second) : rate_(bytes_per_second) {}
  void Consume(int64_t bytes);

 private:
  const int64_t rate_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point next_{};  // GUARDED_BY(mu_)
};

}  // namespace ferry
