// Per-user storage quotas: how many bytes each user may still store.
//
// A user's usage is the bytes of the regular files and symlinks in their home
// (HomeFs::DiskUsage) plus the bytes of their partial uploads. The home part
// is measured by one walk of the home when first needed and then kept in
// memory: the file service reports what its own calls add or remove
// (Adjust), and a call whose effect it does not know cheaply (a recursive
// remove, a replacing rename) drops the figure (Forget) so the next check
// walks again. Changes made elsewhere (background jobs, an administrator) are
// seen once a figure is older than `max_age`. Partials are summed on each
// check (a directory of a few files per user). So a check costs a quota
// lookup and a small directory read, and a full walk at most once per
// `max_age` per user who writes.
//
// Checks are made before a write. An upload being written counts at its full
// size among the partials, so uploads running at once cannot together pass
// the quota; other writes (touch, mkdir, jobs) are checked only against the
// usage when they start. Thread-safe; walks run outside the lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/status.h"

namespace ferry {

class QuotaBook {
 public:
  // The quota of a user in bytes; nullopt: no quota.
  using QuotaOf = std::function<Result<std::optional<int64_t>>(const std::string& user)>;
  // Bytes in the home of a user (a full walk).
  using HomeBytes = std::function<Result<int64_t>(const std::string& user)>;
  // Bytes of a user's partial uploads.
  using PartialBytes = std::function<int64_t(const std::string& user)>;

  QuotaBook(QuotaOf quota_of, HomeBytes home_bytes, PartialBytes partial_bytes,
            SteadyClock clock = RealSteadyClock(),
            std::chrono::seconds max_age = std::chrono::seconds(60));

  // Bytes `user` may still store (0 when at or over the quota); nullopt when
  // the user has no quota.
  Result<std::optional<int64_t>> Remaining(const std::string& user);
  // OK if `user` may store `more` bytes (negative: the call frees that many
  // besides what the usage already counts); RESOURCE_EXHAUSTED naming the
  // quota and the usage otherwise.
  Status CheckRoom(const std::string& user, int64_t more);
  // The file service changed the home of `user` by `delta` bytes.
  void Adjust(const std::string& user, int64_t delta);
  // The home of `user` changed by an amount not known: measure it again.
  void Forget(const std::string& user);

 private:
  struct Usage {
    int64_t home_bytes = 0;
    std::chrono::steady_clock::time_point measured;
  };
  // Bytes used by `user` now (home + partials).
  Result<int64_t> UsedBytes(const std::string& user);

  const QuotaOf quota_of_;
  const HomeBytes home_bytes_;
  const PartialBytes partial_bytes_;
  const SteadyClock clock_;
  const std::chrono::seconds max_age_;
  std::mutex mu_;
  std::unordered_map<std::string, Usage> usage_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
