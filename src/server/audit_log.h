// The audit log: one record per operation in ferry.db, written by a background
// thread in batched transactions so that serving a request never waits on disk.
// Record() is thread-safe; the destructor writes everything still queued.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/sqlite.h"
#include "core/status.h"

namespace ferry {

struct AuditRecord {
  int64_t time_us = 0;  // Unix time
  std::string user;
  std::string remote;
  std::string operation;
  std::string path;
  std::string path2;
  std::string result;  // "OK" or "NOT_FOUND: ..."
  int64_t bytes = 0;
  int64_t duration_us = 0;
};

class AuditLog {
 public:
  explicit AuditLog(Db db);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Record(AuditRecord record);
  // Blocks until everything recorded so far is in the database (for tests and shutdown).
  void Flush();

 private:
  void Run();
  Status Write(const std::vector<AuditRecord>& batch);

  Db db_;  // used only by the writer thread
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<AuditRecord> queue_;  // GUARDED_BY(mu_)
  uint64_t queued_ = 0;            // GUARDED_BY(mu_)
  uint64_t written_ = 0;           // GUARDED_BY(mu_)
  bool stopping_ = false;          // GUARDED_BY(mu_)
  std::thread writer_;
};

// Reads the newest `limit` records (optionally of one user), newest first.
Result<std::vector<AuditRecord>> QueryAudit(Db& db, const std::optional<std::string>& user,
                                            int limit);

}  // namespace ferry
