#include "directory/file_row_cache.h"

namespace ferry {

FileRowCache::FileRowCache(size_t max_rows, std::chrono::milliseconds max_age)
    : half_(max_rows / 2), max_age_ms_(max_age.count()) {}

std::vector<SharedFileRow> FileRowCache::Find(const std::vector<int64_t>& ids, int64_t now) const {
  std::vector<SharedFileRow> rows(ids.size());
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = newer_.find(ids[i]);
    if (it == newer_.end()) {
      it = older_.find(ids[i]);
      if (it == older_.end()) continue;
    }
    if (now - it->second.read_at < max_age_ms_) rows[i] = it->second.row;
  }
  return rows;
}

void FileRowCache::Put(const std::vector<std::pair<int64_t, SharedFileRow>>& rows, int64_t now) {
  if (half_ == 0) return;
  std::lock_guard lock(mu_);
  for (const auto& [id, row] : rows) {
    if (newer_.size() >= half_) {
      older_ = std::move(newer_);
      newer_.clear();
    }
    newer_[id] = Entry{row, now};
  }
}

void FileRowCache::Forget(const std::vector<int64_t>& ids) {
  std::lock_guard lock(mu_);
  for (int64_t id : ids) {
    newer_.erase(id);
    older_.erase(id);
  }
}

size_t FileRowCache::size() const {
  std::lock_guard lock(mu_);
  return newer_.size() + older_.size();
}

}  // namespace ferry
