// What the services of one running server share.
#pragma once

#include <memory>
#include <mutex>
#include <semaphore>
#include <string>

#include <spdlog/spdlog.h>

#include "core/home_fs.h"
#include "core/login_throttle.h"
#include "core/usable_cpus.h"
#include "server/accounts.h"
#include "server/audit_log.h"
#include "server/data_dir.h"
#include "server/path_locks.h"
#include "server/quota_book.h"
#include "server/sessions.h"
#include "server/uploads.h"

namespace ferry {

struct ServerState {
  ServerState(DataDir d, SessionLimits limits, ThrottlePolicy throttle_policy, Db audit_db,
              Db accounts_db, std::chrono::seconds upload_retention, SpaceReserve reserve = {},
              AuditOptions audit_options = {})
      : data(std::move(d)),
        accounts_db_(std::move(accounts_db)),
        sessions(limits, RealSteadyClock(),
                 [this](const std::string& user, const std::string& credential) {
                   return AccountStillValid(user, credential);
                 }),
        throttle(throttle_policy),
        audit(std::move(audit_db), std::move(audit_options)),
        uploads(data.uploads(), upload_retention, reserve),
        quotas([this](const std::string& user) { return StoredQuota(user); },
               [this](const std::string& user) -> Result<int64_t> {
                 auto home = Home(user);
                 if (!home.ok()) return home.status();
                 return home->DiskUsage(RelPath());
               },
               [this](const std::string& user) { return uploads.PartialBytes(user); }) {}

  // The home of `user`. Not created here: `ferry user add` makes it, and a home
  // removed with the account must not come back.
  Result<HomeFs> Home(const std::string& user) const {
    auto home = HomeFs::Open(data.home(user), false);
    if (!home.ok()) {
      // The real error names server paths; the client gets a plain one.
      spdlog::error("home of '{}': {}", user, home.status().ToString());
      return Status::FailedPrecondition(
          "your home directory is not available on the server; ask its administrator");
    }
    return home;
  }

  // The stored password hash of `user` (nullopt: no such user), read over the
  // server's own accounts connection.
  Result<std::optional<std::string>> StoredHash(const std::string& user) {
    std::lock_guard lock(accounts_mu_);
    return AccountStore(&accounts_db_).StoredHash(user);
  }

  // The storage quota of `user` in bytes (nullopt: none), read over the
  // server's own accounts connection.
  Result<std::optional<int64_t>> StoredQuota(const std::string& user) {
    std::lock_guard lock(accounts_mu_);
    return AccountStore(&accounts_db_).Quota(user);
  }

  // Bytes `user` may still store before reaching their quota (home and
  // partial uploads counted); nullopt when they have no quota. For callers
  // outside the file service, such as jobs sizing their output.
  Result<std::optional<int64_t>> RemainingQuota(const std::string& user) {
    return quotas.Remaining(user);
  }

  // Sessions ask this every few seconds; a database error keeps them alive
  // rather than logging everyone out.
  bool AccountStillValid(const std::string& user, const std::string& credential) {
    auto stored = StoredHash(user);
    if (!stored.ok()) {
      spdlog::warn("cannot re-check account '{}': {}", user, stored.status().ToString());
      return true;
    }
    return *stored == credential;
  }

  DataDir data;

 private:
  std::mutex accounts_mu_;
  Db accounts_db_;  // GUARDED_BY(accounts_mu_)

 public:
  SessionTable sessions;
  LoginThrottle throttle;
  PathLocks locks;
  AuditLog audit;
  UploadStore uploads;
  QuotaBook quotas;
  // At most this many password verifications at once (each takes 19 MiB).
  std::counting_semaphore<1024> verify_slots{static_cast<std::ptrdiff_t>(UsableCpus())};
};

}  // namespace ferry
