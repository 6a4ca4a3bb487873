#include "server/quota_book.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/byte_size.h"

namespace ferry {

QuotaBook::QuotaBook(QuotaOf quota_of, HomeBytes home_bytes, PartialBytes partial_bytes,
                     SteadyClock clock, std::chrono::seconds max_age)
    : quota_of_(std::move(quota_of)),
      home_bytes_(std::move(home_bytes)),
      partial_bytes_(std::move(partial_bytes)),
      clock_(std::move(clock)),
      max_age_(max_age) {}

Result<int64_t> QuotaBook::UsedBytes(const std::string& user) {
  auto now = clock_();
  std::optional<int64_t> home;
  {
    std::lock_guard lock(mu_);
    if (auto it = usage_.find(user); it != usage_.end() && now - it->second.measured < max_age_) {
      home = it->second.home_bytes;
    }
  }
  if (!home) {
    auto walked = home_bytes_(user);
    if (!walked.ok()) return walked.status();
    home = *walked;
    std::lock_guard lock(mu_);
    usage_[user] = Usage{*home, now};
  }
  return *home + partial_bytes_(user);
}

Result<std::optional<int64_t>> QuotaBook::Remaining(const std::string& user) {
  auto quota = quota_of_(user);
  if (!quota.ok()) return quota.status();
  if (!*quota) return std::optional<int64_t>();
  auto used = UsedBytes(user);
  if (!used.ok()) return used.status();
  return std::optional<int64_t>(std::max<int64_t>(0, **quota - *used));
}

Status QuotaBook::CheckRoom(const std::string& user, int64_t more) {
  auto quota = quota_of_(user);
  if (!quota.ok()) return quota.status();
  if (!*quota) return Status::Ok();
  auto used = UsedBytes(user);
  if (!used.ok()) return used.status();
  if (*used + more > **quota) {
    return Status::ResourceExhausted(fmt::format(
        "this would exceed your quota of {}: you use {} (unfinished uploads included){}; "
        "remove some files or ask the server's administrator",
        FormatByteSize(**quota), FormatByteSize(*used),
        more > 0 ? " and this needs " + FormatByteSize(more) + " more" : ""));
  }
  return Status::Ok();
}

void QuotaBook::Adjust(const std::string& user, int64_t delta) {
  std::lock_guard lock(mu_);
  if (auto it = usage_.find(user); it != usage_.end()) {
    it->second.home_bytes = std::max<int64_t>(0, it->second.home_bytes + delta);
  }
}

void QuotaBook::Forget(const std::string& user) {
  std::lock_guard lock(mu_);
  usage_.erase(user);
}

}  // namespace ferry
