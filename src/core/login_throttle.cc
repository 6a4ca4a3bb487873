#include "core/login_throttle.h"

#include <algorithm>

#include <fmt/format.h>

namespace ferry {
namespace {

constexpr size_t kMaxTrackedKeys = 100'000;

}  // namespace

LoginThrottle::LoginThrottle(ThrottlePolicy policy, SteadyClock clock)
    : policy_(policy), clock_(std::move(clock)) {}

std::string LoginThrottle::Refusal(const Entry& e,
                                   std::chrono::steady_clock::time_point now) const {
  if (now < e.next_allowed) {
    auto wait = std::chrono::ceil<std::chrono::seconds>(e.next_allowed - now);
    return fmt::format("wait {} s before trying again", wait.count());
  }
  if (e.in_progress > 0 && e.failures + e.in_progress >= policy_.free_attempts) {
    return "another login attempt is still being checked; try again in a moment";
  }
  return "";
}

Status LoginThrottle::Begin(const std::string& user, const std::string& address) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  if (users_.size() + addresses_.size() > kMaxTrackedKeys) ForgetOld(now);
  Entry& u = users_[user];
  Entry& a = addresses_[address];
  if (std::string why = Refusal(u, now); !why.empty()) {
    return Status::ResourceExhausted(
        fmt::format("too many failed logins for user '{}'; {}", user, why));
  }
  if (std::string why = Refusal(a, now); !why.empty()) {
    return Status::ResourceExhausted(
        fmt::format("too many failed logins from {}; {}", address, why));
  }
  u.in_progress++;
  a.in_progress++;
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

int LoginThrottle::Failed(const std::string& user, const std::string& address) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  Entry& u = users_[user];
  Entry& a = addresses_[address];
  u.in_progress = std::max(0, u.in_progress - 1);
  a.in_progress = std::max(0, a.in_progress - 1);
  Fail(u, now);
  Fail(a, now);
  return u.failures;
}

void LoginThrottle::Succeeded(const std::string& user, const std::string& address) {
  std::lock_guard lock(mu_);
  users_.erase(user);
  auto it = addresses_.find(address);
  if (it != addresses_.end()) it->second.in_progress = std::max(0, it->second.in_progress - 1);
}

void LoginThrottle::Abandoned(const std::string& user, const std::string& address) {
  std::lock_guard lock(mu_);
  for (auto* e : {&users_[user], &addresses_[address]})
    e->in_progress = std::max(0, e->in_progress - 1);
}

void LoginThrottle::ForgetOld(std::chrono::steady_clock::time_point now) {
  auto old = [&](const auto& kv) {
    return kv.second.in_progress == 0 && now - kv.second.last_failure > policy_.forget_after &&
           now >= kv.second.next_allowed;
  };
  std::erase_if(users_, old);
  std::erase_if(addresses_, old);
}

}  // namespace ferry
