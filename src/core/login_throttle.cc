#include "core/login_throttle.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace ferry {
namespace {

using Time = std::chrono::steady_clock::time_point;

// Keeps `map` below `max` entries before one is added: first drops what is
// forgotten anyway, then the older half of what is not busy.
template <typename Map, typename Forgotten, typename Busy>
void MakeRoom(Map& map, size_t max, Forgotten forgotten, Busy busy) {
  if (map.size() < max) return;
  std::erase_if(map, [&](const auto& kv) { return !busy(kv.second) && forgotten(kv.second); });
  if (map.size() < max) return;
  std::vector<Time> times;
  times.reserve(map.size());
  for (const auto& [key, e] : map) {
    if (!busy(e)) times.push_back(e.last_failure);
  }
  if (times.empty()) return;
  auto middle = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), middle, times.end());
  Time cutoff = *middle;
  std::erase_if(
      map, [&](const auto& kv) { return !busy(kv.second) && kv.second.last_failure <= cutoff; });
}

}  // namespace

std::string ThrottleSource(const std::string& address) {
  in6_addr a6{};
  if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), &a6) != 1) {
    return address;
  }
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    char buf[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof buf) != nullptr) return buf;
    return address;
  }
  std::fill(std::begin(a6.s6_addr) + 8, std::end(a6.s6_addr), 0);
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(AF_INET6, &a6, buf, sizeof buf) == nullptr) return address;
  return std::string(buf) + "/64";
}

LoginThrottle::LoginThrottle(ThrottlePolicy policy, SteadyClock clock)
    : policy_(policy), clock_(std::move(clock)) {}

bool LoginThrottle::UnderAttack(const std::string& user, Time now) const {
  auto it = users_.find(user);
  return it != users_.end() && it->second.failures >= policy_.user_soft_cap &&
         now - it->second.last_failure <= policy_.forget_after;
}

std::string LoginThrottle::Refusal(const Source& s, int free_attempts, Time now) const {
  if (now < s.next_allowed) {
    auto wait = std::chrono::ceil<std::chrono::seconds>(s.next_allowed - now);
    return fmt::format("wait {} s before trying again", wait.count());
  }
  if (s.in_progress > 0 && s.failures + s.in_progress >= free_attempts) {
    return "another login attempt is still being checked; try again in a moment";
  }
  return "";
}

LoginThrottle::Source& LoginThrottle::SourceEntry(const std::string& key, Time now) {
  if (auto it = sources_.find(key); it != sources_.end()) return it->second;
  MakeRoom(
      sources_, policy_.max_tracked,
      [&](const Source& s) {
        return now - s.last_failure > policy_.forget_after && now >= s.next_allowed;
      },
      [](const Source& s) { return s.in_progress > 0; });
  return sources_[key];
}

LoginThrottle::User& LoginThrottle::UserEntry(const std::string& user, Time now) {
  if (auto it = users_.find(user); it != users_.end()) return it->second;
  MakeRoom(
      users_, policy_.max_tracked,
      [&](const User& u) { return now - u.last_failure > policy_.forget_after; },
      [](const User&) { return false; });
  return users_[user];
}

Status LoginThrottle::Begin(const std::string& user, const std::string& address) {
  auto now = clock_();
  std::string key = ThrottleSource(address);
  std::lock_guard lock(mu_);
  int free_attempts = UnderAttack(user, now) ? 1 : policy_.free_attempts;
  Source& s = SourceEntry(key, now);
  if (s.failures > 0 && now - s.last_failure > policy_.forget_after) s.failures = 0;
  if (std::string why = Refusal(s, free_attempts, now); !why.empty()) {
    return Status::ResourceExhausted(
        fmt::format("too many failed logins from {}; {}", address, why));
  }
  s.in_progress++;
  return Status::Ok();
}

int LoginThrottle::Failed(const std::string& user, const std::string& address) {
  auto now = clock_();
  std::string key = ThrottleSource(address);
  std::lock_guard lock(mu_);
  bool under_attack = UnderAttack(user, now);
  Source& s = SourceEntry(key, now);
  s.in_progress = std::max(0, s.in_progress - 1);
  if (s.failures > 0 && now - s.last_failure > policy_.forget_after) s.failures = 0;
  // A source that joins an attack on a user has no free attempts left.
  if (under_attack) s.failures = std::max(s.failures, policy_.free_attempts - 1);
  s.failures++;
  s.last_failure = now;
  if (int over = s.failures - policy_.free_attempts; over >= 0) {
    auto delay = policy_.base_delay * (1LL << std::min(over, 20));
    s.next_allowed = now + std::min<std::chrono::milliseconds>(delay, policy_.max_delay);
  }
  User& u = UserEntry(user, now);
  if (u.failures > 0 && now - u.last_failure > policy_.forget_after) u.failures = 0;
  u.failures++;
  u.last_failure = now;
  return u.failures;
}

void LoginThrottle::Release(const std::string& key) {
  auto it = sources_.find(key);
  if (it != sources_.end()) it->second.in_progress = std::max(0, it->second.in_progress - 1);
}

void LoginThrottle::Succeeded(const std::string&, const std::string& address) {
  std::string key = ThrottleSource(address);
  std::lock_guard lock(mu_);
  Release(key);
}

void LoginThrottle::Abandoned(const std::string&, const std::string& address) {
  std::string key = ThrottleSource(address);
  std::lock_guard lock(mu_);
  Release(key);
}

size_t LoginThrottle::tracked_sources() const {
  std::lock_guard lock(mu_);
  return sources_.size();
}

size_t LoginThrottle::tracked_users() const {
  std::lock_guard lock(mu_);
  return users_.size();
}

}  // namespace ferry
