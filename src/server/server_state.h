// What the services of one running server share.
#pragma once

#include <memory>
#include <string>

#include "core/home_fs.h"
#include "server/audit_log.h"
#include "server/data_dir.h"
#include "server/login_throttle.h"
#include "server/path_locks.h"
#include "server/sessions.h"
#include "server/uploads.h"

namespace ferry {

struct ServerState {
  ServerState(DataDir d, SessionLimits limits, ThrottlePolicy throttle_policy, Db audit_db,
              std::chrono::seconds upload_retention)
      : data(std::move(d)),
        sessions(limits),
        throttle(throttle_policy),
        audit(std::move(audit_db)),
        uploads(data.uploads(), upload_retention) {}

  // The home of `user`, created if missing.
  Result<HomeFs> Home(const std::string& user) const { return HomeFs::Open(data.home(user), true); }

  DataDir data;
  SessionTable sessions;
  LoginThrottle throttle;
  PathLocks locks;
  AuditLog audit;
  UploadStore uploads;
};

}  // namespace ferry
