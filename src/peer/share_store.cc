#include "peer/share_store.h"

#include <fmt/format.h>

#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

// Bumped whenever the table's meaning changes; an old file is then rebuilt,
// except from kHashedAtAdded - 1, which only lacks the hashed_at column.
constexpr int kSchemaVersion = 2;
constexpr int kHashedAtAdded = 2;
constexpr size_t kHexDigits = 64;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS shared_files (
  path          TEXT PRIMARY KEY,
  size          INTEGER NOT NULL,
  mtime_ns      INTEGER NOT NULL,
  inode         INTEGER NOT NULL,
  device        INTEGER NOT NULL,
  sha256        TEXT NOT NULL,
  chunk_sha256s TEXT NOT NULL,
  chunk_root    TEXT NOT NULL,
  recheck       INTEGER NOT NULL,
  hashed_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS shared_files_by_sha256 ON shared_files(sha256, path);
)sql";

constexpr char kColumns[] =
    "path, size, mtime_ns, inode, device, sha256, chunk_sha256s, chunk_root, recheck, hashed_at";

// Reads a row selected with kColumns; false if its chunk list does not parse.
bool ReadRow(const Statement& stmt, ShareStore::Row& row) {
  SharedFile& f = row.file;
  f.path = stmt.Text(0);
  f.size = stmt.Int(1);
  f.mtime_ns = stmt.Int(2);
  f.inode = static_cast<uint64_t>(stmt.Int(3));
  f.device = static_cast<uint64_t>(stmt.Int(4));
  f.sha256 = stmt.Text(5);
  std::string joined = stmt.Text(6);
  f.chunk_root = stmt.Text(7);
  row.recheck = stmt.Int(8) != 0;
  f.hashed_at = stmt.Int(9);
  if (f.size < 0 || joined.size() != static_cast<size_t>(ChunkCount(f.size)) * kHexDigits) {
    return false;
  }
  f.chunk_sha256s.clear();
  for (size_t i = 0; i < joined.size(); i += kHexDigits) {
    f.chunk_sha256s.push_back(joined.substr(i, kHexDigits));
  }
  return true;
}

}  // namespace

Result<ShareStore> ShareStore::Open(const std::string& path) {
  auto db = Db::Open(path);
  if (!db.ok()) return db.status();
  auto version = db->Prepare("PRAGMA user_version");
  if (!version.ok()) return version.status();
  auto has = version->Step();
  if (!has.ok()) return has.status();
  int64_t found = *has ? version->Int(0) : 0;
  if (found == kHashedAtAdded - 1) {
    // Hashes kept: the files hashed before show no time.
    FERRY_RETURN_IF_ERROR(
        db->Exec("ALTER TABLE shared_files ADD COLUMN hashed_at INTEGER NOT NULL DEFAULT 0"));
  } else if (found != kSchemaVersion) {
    FERRY_RETURN_IF_ERROR(db->Exec("DROP TABLE IF EXISTS shared_files"));
  }
  FERRY_RETURN_IF_ERROR(db->Exec(kSchema));
  FERRY_RETURN_IF_ERROR(db->Exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion)));
  return ShareStore(std::move(db).value());
}

Result<std::vector<ShareStore::Row>> ShareStore::All() {
  auto stmt = db_.Prepare(fmt::format("SELECT {} FROM shared_files ORDER BY path", kColumns));
  if (!stmt.ok()) return stmt.status();
  std::vector<Row> rows;
  for (;;) {
    auto more = stmt->Step();
    if (!more.ok()) return more.status();
    if (!*more) break;
    Row row;
    if (!ReadRow(*stmt, row)) {
      row.recheck = true;
      row.file.chunk_sha256s.clear();
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::optional<SharedFile>> ShareStore::FindBySha256(std::string_view sha256) {
  auto stmt = db_.Reuse(
      fmt::format("SELECT {} FROM shared_files WHERE sha256 = ?1 ORDER BY path", kColumns));
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(1, sha256);
  for (;;) {
    auto more = (*stmt)->Step();
    if (!more.ok()) return more.status();
    if (!*more) return std::optional<SharedFile>();
    Row row;
    if (ReadRow(**stmt, row)) return std::optional<SharedFile>(std::move(row.file));
  }
}

Result<int64_t> ShareStore::Count() {
  auto stmt = db_.Prepare("SELECT count(*) FROM shared_files");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? stmt->Int(0) : 0;
}

Status ShareStore::Put(const SharedFile& file, bool recheck) {
  std::string joined;
  joined.reserve(file.chunk_sha256s.size() * kHexDigits);
  for (const auto& h : file.chunk_sha256s) joined += h;
  auto stmt = db_.Reuse(fmt::format(
      "INSERT OR REPLACE INTO shared_files ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
      kColumns));
  if (!stmt.ok()) return stmt.status();
  (*stmt)
      ->Bind(1, file.path)
      .Bind(2, file.size)
      .Bind(3, file.mtime_ns)
      .Bind(4, static_cast<int64_t>(file.inode))
      .Bind(5, static_cast<int64_t>(file.device))
      .Bind(6, file.sha256)
      .Bind(7, joined)
      .Bind(8, file.chunk_root)
      .Bind(9, int64_t{recheck ? 1 : 0})
      .Bind(10, file.hashed_at);
  return (*stmt)->Run();
}

Status ShareStore::Remove(const std::vector<std::string>& paths) {
  if (paths.empty()) return Status::Ok();
  auto tx = Transaction::Begin(db_);
  if (!tx.ok()) return tx.status();
  {
    auto stmt = db_.Reuse("DELETE FROM shared_files WHERE path = ?1");
    if (!stmt.ok()) return stmt.status();
    for (const auto& path : paths) {
      (*stmt)->Bind(1, path);
      FERRY_RETURN_IF_ERROR((*stmt)->Run());
      (*stmt)->Reset();
    }
  }
  return tx->Commit();
}

}  // namespace ferry
