#include "peer/upload_board.h"

namespace ferry {

void UploadBoard::Begin(const std::string& user, const std::string& address,
                        const std::string& sha256, const std::string& name) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  Forget(now);
  Row& row = rows_[{user, sha256}];
  row.view.user = user;
  row.view.address = address;
  row.view.sha256 = sha256;
  row.view.name = name;
  ++row.calls;
  row.last = now;
  row.rate.Record(row.view.bytes, now);
}

void UploadBoard::Sent(const std::string& user, const std::string& sha256, int64_t bytes) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  auto it = rows_.find({user, sha256});
  if (it == rows_.end()) return;
  Row& row = it->second;
  row.view.bytes += bytes;
  row.last = now;
  row.rate.Record(row.view.bytes, now);
}

void UploadBoard::End(const std::string& user, const std::string& sha256) {
  std::lock_guard lock(mu_);
  auto it = rows_.find({user, sha256});
  if (it == rows_.end()) return;
  --it->second.calls;
  it->second.last = Clock::now();
}

void UploadBoard::Forget(Clock::time_point now) {
  std::erase_if(rows_, [&](const auto& entry) {
    return entry.second.calls == 0 && now - entry.second.last > kLinger;
  });
}

std::vector<UploadView> UploadBoard::Snapshot(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  std::vector<UploadView> out;
  for (const auto& [key, row] : rows_) {
    if (row.calls == 0 && now - row.last > kLinger) continue;
    UploadView view = row.view;
    view.rate = row.rate.Rate(now);
    out.push_back(std::move(view));
  }
  return out;
}

}  // namespace ferry
