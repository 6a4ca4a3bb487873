#include "transfer/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace ferry {

RateLimiter::RateLimiter(int64_t bytes_per_second)
    : rate_(bytes_per_second), start_(std::chrono::steady_clock::now()) {}

void RateLimiter::Consume(int64_t bytes) {
  if (rate_ <= 0) return;
  total_ += bytes;
  auto due = start_ + std::chrono::microseconds(total_ * 1'000'000 / rate_);
  std::this_thread::sleep_until(due);
}

void SharedRateLimiter::Consume(int64_t bytes) {
  if (rate_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point due;
  {
    std::lock_guard lock(mu_);
    due = std::max(next_, now);
    next_ = due + std::chrono::microseconds(bytes * 1'000'000 / rate_);
  }
  std::this_thread::sleep_until(due);
}

}  // namespace ferry
