#include "server/path_locks.h"

namespace ferry {

PathLocks::Held::~Held() {
  if (owner_ == nullptr) return;
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) owner_->Release(it->key, it->exclusive);
}

PathLocks::Entry* PathLocks::Acquire(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& slot = entries_[key];
  if (!slot) slot = std::make_unique<Entry>();
  slot->users++;
  return slot.get();
}

void PathLocks::Release(const std::string& key, bool exclusive) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (exclusive) {
    it->second->mu.unlock();
  } else {
    it->second->mu.unlock_shared();
  }
  if (--it->second->users == 0) entries_.erase(it);
}

PathLocks::Held PathLocks::Lock(const std::string& user, const std::vector<Target>& targets) {
  // key -> exclusive?; std::map gives the one global acquisition order.
  std::map<std::string, bool> wanted;
  for (const auto& t : targets) {
    std::string key = user + '\0';
    wanted.try_emplace(key, false);
    const auto& parts = t.path.parts();
    for (size_t i = 0; i < parts.size(); ++i) {
      key += (i ? "/" : "") + parts[i];
      bool exclusive = t.exclusive && i + 1 == parts.size();
      auto [it, inserted] = wanted.try_emplace(key, exclusive);
      if (!inserted && exclusive) it->second = true;
    }
    if (parts.empty() && t.exclusive) wanted[user + '\0'] = true;
  }
  Held held;
  held.owner_ = this;
  for (const auto& [key, exclusive] : wanted) {
    Entry* e = Acquire(key);
    if (exclusive) {
      e->mu.lock();
    } else {
      e->mu.lock_shared();
    }
    held.held_.push_back({key, exclusive});
  }
  return held;
}

size_t PathLocks::ActiveKeys() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace ferry
