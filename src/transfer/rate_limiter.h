// Paces a transfer to an average rate (--limit-rate).
#pragma once

#include <chrono>
#include <cstdint>

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

}  // namespace ferry
