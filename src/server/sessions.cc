#include "server/sessions.h"

#include <vector>

#include <fmt/format.h>

#include "core/secrets.h"
#include "core/sha256.h"

namespace ferry {

SessionTable::SessionTable(SessionLimits limits, SteadyClock clock, AccountCheck account_check)
    : limits_(limits), clock_(std::move(clock)), account_check_(std::move(account_check)) {}

SessionTable::ActiveCall::~ActiveCall() {
  if (table_ != nullptr) table_->EndCall(key_, id_);
}

void SessionTable::ActiveCall::Progress() {
  if (table_ != nullptr) table_->TouchCall(key_, id_);
}

std::string SessionTable::ExpiryReason(const Session& s,
                                       std::chrono::steady_clock::time_point now) const {
  if (now - s.created >= limits_.lifetime) {
    return "your session has expired; log in again";
  }
  if (s.calls.empty() && now - s.last_active >= limits_.idle_timeout) {
    return fmt::format("your session was closed after {} s without activity; log in again",
                       limits_.idle_timeout.count());
  }
  return "";
}

void SessionTable::SweepLocked(std::chrono::steady_clock::time_point now) {
  constexpr size_t kRememberEnded = 4096;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (std::string why = ExpiryReason(it->second, now); !why.empty()) {
      if (ended_.emplace(it->first, std::move(why)).second) ended_order_.push_back(it->first);
      while (ended_order_.size() > kRememberEnded) {
        ended_.erase(ended_order_.front());
        ended_order_.pop_front();
      }
      it = EraseLocked(it);
    } else {
      ++it;
    }
  }
}

std::unordered_map<std::string, SessionTable::Session>::iterator SessionTable::EraseLocked(
    std::unordered_map<std::string, Session>::iterator it) {
  if (auto count = per_user_.find(it->second.user);
      count != per_user_.end() && --count->second <= 0) {
    per_user_.erase(count);
  }
  return sessions_.erase(it);
}

Result<std::string> SessionTable::Create(const std::string& user, const std::string& credential) {
  std::string token = RandomHex(32);
  auto now = clock_();
  std::lock_guard lock(mu_);
  auto user_full = [&] {
    auto count = per_user_.find(user);
    return count != per_user_.end() && count->second >= limits_.max_sessions_per_user;
  };
  if (sessions_.size() >= static_cast<size_t>(limits_.max_clients) || user_full()) {
    SweepLocked(now);
  }
  if (user_full()) {
    return Status::ResourceExhausted(fmt::format(
        "you have {} sessions open, the most one user may have; log out of one (or let it go "
        "idle for {} s) and try again",
        limits_.max_sessions_per_user, limits_.idle_timeout.count()));
  }
  if (sessions_.size() >= static_cast<size_t>(limits_.max_clients)) {
    return Status::ResourceExhausted(fmt::format(
        "the server is full: it already serves its maximum of {} clients; try again later",
        limits_.max_clients));
  }
  sessions_.emplace(Sha256::HexOf(token), Session{user, credential, now, now, now, {}});
  per_user_[user]++;
  return token;
}

Result<SessionTable::ActiveCall> SessionTable::Begin(const std::string& token,
                                                     std::function<void()> cancel) {
  if (token.empty())
    return Status::Unauthenticated("not logged in: this call needs a session token");
  std::string key = Sha256::HexOf(token);
  auto now = clock_();
  std::unique_lock lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) {
    if (auto ended = ended_.find(key); ended != ended_.end()) {
      return Status::Unauthenticated(ended->second);
    }
    return Status::Unauthenticated("invalid or logged-out session token; log in again");
  }
  if (std::string why = ExpiryReason(it->second, now); !why.empty()) {
    EraseLocked(it);
    return Status::Unauthenticated(why);
  }
  if (account_check_ && now - it->second.last_checked >= limits_.recheck_interval) {
    // The check reads the database: not under the lock.
    std::string user = it->second.user, credential = it->second.credential;
    lock.unlock();
    bool valid = account_check_(user, credential);
    lock.lock();
    it = sessions_.find(key);
    if (it == sessions_.end()) return Status::Unauthenticated("session ended; log in again");
    if (!valid) {
      EraseLocked(it);
      return Status::Unauthenticated(
          "your account was removed or its password changed; log in again");
    }
    it->second.last_checked = now;
  }
  Session& s = it->second;
  if (s.calls.size() >= static_cast<size_t>(limits_.max_calls_per_session)) {
    return Status::ResourceExhausted(
        fmt::format("this session already has {} calls in progress, the most it may have",
                    limits_.max_calls_per_session));
  }
  uint64_t id = next_call_id_++;
  s.calls.emplace(id, Call{now, std::move(cancel)});
  s.last_active = now;
  return ActiveCall(this, key, s.user, id);
}

void SessionTable::EndCall(const std::string& key, uint64_t id) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  it->second.calls.erase(id);
  it->second.last_active = now;
}

void SessionTable::TouchCall(const std::string& key, uint64_t id) {
  auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return;
  if (auto call = it->second.calls.find(id); call != it->second.calls.end()) {
    call->second.last_progress = now;
  }
  it->second.last_active = now;
}

bool SessionTable::Remove(const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(Sha256::HexOf(token));
  if (it == sessions_.end()) return false;
  EraseLocked(it);
  return true;
}

size_t SessionTable::Sweep() {
  auto now = clock_();
  std::vector<std::function<void()>> stalled;
  size_t left = 0;
  {
    std::lock_guard lock(mu_);
    SweepLocked(now);
    for (auto& [key, session] : sessions_) {
      for (auto& [id, call] : session.calls) {
        if (call.cancel && now - call.last_progress >= limits_.idle_timeout) {
          stalled.push_back(std::exchange(call.cancel, nullptr));
        }
      }
    }
    left = sessions_.size();
  }
  // Cancelling wakes the stalled handler, which then ends its call.
  for (auto& cancel : stalled) cancel();
  return left;
}

size_t SessionTable::open() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace ferry
