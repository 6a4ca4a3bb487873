#include "server/login_throttle.h"

#include <algorithm>

#include <fmt/format.h>

namespace ferry {
namespace {

constexpr size_t kMaxTrackedKeys = 100'000;

}  // namespace

LoginThrottle::LoginThrottle(ThrottlePolicy policy, SteadyClock clock)
    : policy_(policy), clock_(std::move(clock)) {}

Status LoginThrottle::Check(const std::string& user, const std::string& address) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  auto refuse = [&](const Entry& e, const std::string& who) {
    auto wait = std::chrono::ceil<std::chrono::seconds>(e.next_allowed - now);
    return Status::ResourceExhausted(
        fmt::format("too many failed logins {}; wait {} s before trying again", who, wait.count()));
  };
  if (auto it = users_.find(user); it != users_.end() && now < it->second.next_allowed) {
    return refuse(it->second, fmt::format("for user '{}'", user));
  }
  if (auto it = addresses_.find(address); it != addresses_.end() && now < it->second.next_allowed) {
    return refuse(it->second, fmt::format("from {}", address));
  }
  return Status::Ok();
}

void LoginThrottle::Fail(Entry& e, std::chrono::steady_clock::time_point now) {
  if (e.failures > 0 && now - e.last_failure > policy_.forget_after) e.failures = 0;
  e.failures++;
  e.last_failure = now;
  int over = e.failures - policy_.free_attempts;
  if (over >= 0) {
    auto delay = policy_.base_delay * (1LL << std::min(over, 20));
    e.next_allowed = now + std::min<std::chrono::milliseconds>(delay, policy_.max_delay);
  }
}

int LoginThrottle::RecordFailure(const std::string& user, const std::string& address) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  if (users_.size() + addresses_.size() > kMaxTrackedKeys) ForgetOld(now);
  Entry& u = users_[user];
  Fail(u, now);
  Fail(addresses_[address], now);
  return u.failures;
}

void LoginThrottle::RecordSuccess(const std::string& user) {
  std::lock_guard lock(mu_);
  users_.erase(user);
}

void LoginThrottle::ForgetOld(std::chrono::steady_clock::time_point now) {
  auto old = [&](const auto& kv) {
    return now - kv.second.last_failure > policy_.forget_after && now >= kv.second.next_allowed;
  };
  std::erase_if(users_, old);
  std::erase_if(addresses_, old);
}

}  // namespace ferry
