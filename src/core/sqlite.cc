#include "core/sqlite.h"

#include <fmt/format.h>

#include <cerrno>

namespace ferry {
namespace {

// The one mapping of SQLite's result codes to a Status. A full disk is
// RESOURCE_EXHAUSTED whichever way SQLite met it: SQLITE_FULL from a write,
// or an I/O error (growing the WAL index, say) whose system errno is ENOSPC.
Status StatusOf(sqlite3* db, std::string message) {
  int code = sqlite3_errcode(db);
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return Status::Unavailable(message);
  if (code == SQLITE_FULL || (code == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC)) {
    return Status::ResourceExhausted(message);
  }
  if (code == SQLITE_CONSTRAINT) return Status::AlreadyExists(message);
  return Status::Internal(message);
}

Status SqliteError(sqlite3* db, const std::string& what) {
  return StatusOf(db, fmt::format("{}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

Result<Db> Db::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Status::Internal(fmt::format("cannot open database '{}': {}", path,
                                        raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, 10'000);
  FERRY_RETURN_IF_ERROR(
      db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
              "PRAGMA foreign_keys=ON;"));
  return db;
}

Status Db::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return StatusOf(db_.get(), "database error: " + message);
  }
  return Status::Ok();
}

Db::Db(sqlite3* db)
    : db_(db), reused_(std::make_unique<std::unordered_map<std::string, Statement>>()) {}

Result<Db::Reused> Db::Reuse(const std::string& sql) {
  auto it = reused_->find(sql);
  if (it == reused_->end()) {
    auto stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    it = reused_->emplace(sql, std::move(*stmt)).first;
  }
  return Reused(&it->second);
}

Result<Statement> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_.get(), "cannot prepare statement");
  }
  return Statement(db_.get(), stmt);
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, "database error");
}

Status Statement::Run() {
  for (;;) {
    auto row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

Result<Transaction> Transaction::Begin(Db& db) {
  FERRY_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(db);
}

Transaction::~Transaction() {
  if (open_) (void)db_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  FERRY_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  open_ = false;
  return Status::Ok();
}

}  // namespace ferry
