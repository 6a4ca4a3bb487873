#include "directory/address_rate_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace ferry {

std::string RateLimitKey(const std::string& address) {
  if (address.find(':') == std::string::npos) return address;
  in6_addr a6{};
  if (inet_pton(AF_INET6, address.c_str(), &a6) != 1) return address;
  std::memset(a6.s6_addr + 8, 0, 8);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &a6, text, sizeof text);
  return std::string(text) + "/64";
}

AddressRateLimiter::AddressRateLimiter(int per_minute, size_t max_addresses, SteadyClock clock)
    : capacity_(per_minute),
      per_second_(per_minute / 60.0),
      max_addresses_(std::max<size_t>(1, max_addresses)),
      clock_(std::move(clock)) {
  auto now = clock_();
  overflow_ = Bucket{capacity_, now};
  last_sweep_ = now;
}

double AddressRateLimiter::TokensAt(const Bucket& bucket, TimePoint now) const {
  double seconds = std::chrono::duration<double>(now - bucket.updated).count();
  return std::min(capacity_, bucket.tokens + std::max(0.0, seconds) * per_second_);
}

AddressRateLimiter::Bucket& AddressRateLimiter::BucketFor(const std::string& key, TimePoint now) {
  auto it = buckets_.find(key);
  if (it != buckets_.end()) return it->second;
  if (buckets_.size() >= max_addresses_ && now - last_sweep_ >= std::chrono::seconds(1)) {
    last_sweep_ = now;
    std::erase_if(buckets_,
                  [&](const auto& entry) { return TokensAt(entry.second, now) >= capacity_; });
  }
  if (buckets_.size() >= max_addresses_) return overflow_;
  return buckets_.emplace(key, Bucket{capacity_, now}).first->second;
}

Status AddressRateLimiter::Take(const std::string& address, const char* what) {
  if (capacity_ <= 0) return Status::Ok();
  const std::string key = RateLimitKey(address);
  auto now = clock_();
  std::lock_guard lock(mu_);
  Bucket& bucket = BucketFor(key, now);
  bucket.tokens = TokensAt(bucket, now);
  bucket.updated = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return Status::Ok();
  }
  int wait = static_cast<int>(std::ceil((1 - bucket.tokens) / per_second_));
  return Status::ResourceExhausted(fmt::format(
      "too many {} requests from {}; wait {} s before trying again", what, key, std::max(1, wait)));
}

size_t AddressRateLimiter::tracked() {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace ferry
