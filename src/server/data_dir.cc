#include "server/data_dir.h"

#include <sys/stat.h>

#include <cerrno>

#include <fmt/format.h>

namespace ferry {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS users (
  name          TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  created_unix  INTEGER NOT NULL,
  quota_bytes   INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
  id          INTEGER PRIMARY KEY,
  time_us     INTEGER NOT NULL,
  user        TEXT NOT NULL,
  remote      TEXT NOT NULL,
  operation   TEXT NOT NULL,
  path        TEXT NOT NULL,
  path2       TEXT NOT NULL,
  result      TEXT NOT NULL,
  bytes       INTEGER NOT NULL,
  duration_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_user ON audit(user, id);
)sql";

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, fmt::format("cannot create directory '{}'", path));
  }
  return Status::Ok();
}

bool HasColumn(Db& db, const char* table, const char* column) {
  auto stmt = db.Prepare(fmt::format("PRAGMA table_info({})", table));
  if (!stmt.ok()) return false;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok() || !*row) return false;
    if (stmt->Text(1) == column) return true;
  }
}

// Brings a ferry.db made by an earlier version up to kSchema. Each step is
// safe to race with another process doing the same.
Status Migrate(Db& db) {
  // users.quota_bytes: NULL is no quota.
  if (!HasColumn(db, "users", "quota_bytes")) {
    Status added = db.Exec("ALTER TABLE users ADD COLUMN quota_bytes INTEGER");
    if (!added.ok() && !HasColumn(db, "users", "quota_bytes")) return added;
  }
  return Status::Ok();
}

}  // namespace

Status DataDir::Prepare() const {
  for (const auto& dir : {root, files(), uploads(), tls(), logs()}) {
    FERRY_RETURN_IF_ERROR(MakeDir(dir));
  }
  return Status::Ok();
}

Result<Db> DataDir::OpenDatabase() const {
  FERRY_RETURN_IF_ERROR(MakeDir(root));
  auto db = Db::Open(database());
  if (!db.ok()) return db.status();
  FERRY_RETURN_IF_ERROR(db->Exec(kSchema));
  FERRY_RETURN_IF_ERROR(Migrate(*db));
  return db;
}

}  // namespace ferry
