// The layout of a server's data directory and the schema of its database.
//
//   DATA/files/<user>/   homes            DATA/ferry.db   SQLite (WAL)
//   DATA/uploads/<user>/ partial uploads  DATA/tls/       key + certificate
//   DATA/logs/           server.log       DATA/jobs.key   seals queued jobs' secrets
#pragma once

#include <string>

#include "core/sqlite.h"
#include "core/status.h"

namespace ferry {

struct DataDir {
  std::string root;

  std::string files() const { return root + "/files"; }
  std::string home(const std::string& user) const { return files() + "/" + user; }
  std::string uploads() const { return root + "/uploads"; }
  std::string tls() const { return root + "/tls"; }
  std::string logs() const { return root + "/logs"; }
  std::string database() const { return root + "/ferry.db"; }
  // The key that seals job secrets (passphrases) while they wait; see jobs/sealed_secret.h.
  std::string jobs_key() const { return root + "/jobs.key"; }

  // Creates the directories (mode 0700) that are missing.
  Status Prepare() const;
  // Opens ferry.db, creates its tables if they are missing and adds the
  // columns a database from an earlier version lacks (users.quota_bytes).
  Result<Db> OpenDatabase() const;
};

}  // namespace ferry
