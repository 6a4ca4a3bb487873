// Thin RAII wrappers over SQLite: a connection, prepared statements, transactions.
// A Db is used by one thread at a time; callers that share one serialise access.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace ferry {

class Statement;

class Db {
 public:
  // Opens (creating if needed) a database in WAL mode with a busy timeout, so
  // several processes (server, `ferry user`, `ferry log`) can share it.
  static Result<Db> Open(const std::string& path);

  Db(Db&&) = default;
  Db& operator=(Db&&) = default;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  // A statement prepared once per connection and reused: for hot read paths,
  // where preparing costs as much as running. Reset (ending its read) and
  // its bindings cleared when the handle goes; one handle per SQL at a time.
  class Reused;
  Result<Reused> Reuse(const std::string& sql);
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  int Changes() const { return sqlite3_changes(db_.get()); }
  sqlite3* raw() const { return db_.get(); }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit Db(sqlite3* db);
  std::unique_ptr<sqlite3, Close> db_;
  // Declared after db_: finalized before the connection closes. Boxed so
  // that handles stay valid when the Db moves.
  std::unique_ptr<std::unordered_map<std::string, Statement>> reused_;
};

class Statement {
 public:
  Statement(Statement&&) = default;
  Statement& operator=(Statement&&) = default;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& BindNull(int index);
  // Steps once: true while a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, for statements without results.
  Status Run();
  void Reset();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
  std::string Text(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

 private:
  friend class Db;
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

class Db::Reused {
 public:
  explicit Reused(Statement* stmt) : stmt_(stmt) {}
  Reused(Reused&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Reused(const Reused&) = delete;
  Reused& operator=(const Reused&) = delete;
  Reused& operator=(Reused&&) = delete;
  ~Reused() {
    if (stmt_ != nullptr) stmt_->Reset();
  }
  Statement& operator*() const { return *stmt_; }
  Statement* operator->() const { return stmt_; }

 private:
  Statement* stmt_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless Commit() ran.
class Transaction {
 public:
  static Result<Transaction> Begin(Db& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_), open_(other.open_) {
    other.open_ = false;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Db& db) : db_(&db), open_(true) {}
  Db* db_;
  bool open_;
};

}  // namespace ferry
