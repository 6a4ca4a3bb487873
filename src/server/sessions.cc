#include "server/sessions.h"

#include <fmt/format.h>

#include "core/secrets.h"
#include "core/sha256.h"

namespace ferry {

SteadyClock RealSteadyClock() {
  return [] { return std::chrono::steady_clock::now(); };
}

SessionTable::SessionTable(SessionLimits limits, SteadyClock clock)
    : limits_(limits), clock_(std::move(clock)) {}

SessionTable::ActiveCall::~ActiveCall() {
  if (table_ != nullptr) table_->EndCall(key_);
}

std::string SessionTable::ExpiryReason(const Session& s,
                                       std::chrono::steady_clock::time_point now) const {
  if (now - s.created >= limits_.lifetime) {
    return "your session has expired; log in again";
  }
  if (s.active_calls == 0 && now - s.last_active >= limits_.idle_timeout) {
    return fmt::format("your session was closed after {} s without activity; log in again",
                       limits_.idle_timeout.count());
  }
  return "";
}

void SessionTable::SweepLocked(std::chrono::steady_clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (!ExpiryReason(it->second, now).empty()) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<std::string> SessionTable::Create(const std::string& user) {
  std::string token = RandomHex(32);
  auto now = clock_();
  std::lock_guard lock(mu_);
  if (sessions_.size() >= static_cast<size_t>(limits_.max_clients)) SweepLocked(now);
  if (sessions_.size() >= static_cast<size_t>(limits_.max_clients)) {
    return Status::ResourceExhausted(fmt::format(
        "the server is full: it already serves its maximum of {} clients; try again later",
        limits_.max_clients));
  }
  sessions_.emplace(Sha256::HexOf(token), Session{user, now, now, 0});
  return token;
}

Result<SessionTable::ActiveCall> SessionTable::Begin(const std::string& token) {
  if (token.empty())
    return Status::Unauthenticated("not logged in: this call needs a session token");
  std::string key = Sha256::HexOf(token);
  auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    return Status::Unauthenticated("invalid or logged-out session token; log in again");
  }
  if (std::string why = ExpiryReason(it->second, now); !why.empty()) {
    sessions_.erase(it);
    return Status::Unauthenticated(why);
  }
  it->second.active_calls++;
  it->second.last_active = now;
  return ActiveCall(this, key, it->second.user);
}

void SessionTable::EndCall(const std::string& key) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  it->second.active_calls--;
  it->second.last_active = now;
}

bool SessionTable::Remove(const std::string& token) {
  std::lock_guard lock(mu_);
  return sessions_.erase(Sha256::HexOf(token)) > 0;
}

void SessionTable::RemoveUser(const std::string& user) {
  std::lock_guard lock(mu_);
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.user == user; });
}

size_t SessionTable::Sweep() {
  auto now = clock_();
  std::lock_guard lock(mu_);
  SweepLocked(now);
  return sessions_.size();
}

}  // namespace ferry
