// The audit log: one record per operation in ferry.db, written by a background
// thread in batched transactions so that serving a request never waits on disk,
// except for a mutating operation, whose record is committed before it is
// reported done (RecordDurable). Callers that have not proved who they are
// cannot flood it: their failures are counted per source and minute
// (AuditAggregator). It keeps itself within an age and a size
// (AuditOptions), and fails closed: when records cannot be written, Writable()
// says so until they can again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/sqlite.h"
#include "core/status.h"

namespace ferry {

// The clock of audit records: microseconds since the Unix epoch.
int64_t AuditNowUs();

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
  // Not stored: set for a failure of a caller that has not proved who it is
  // (no valid session; a refused login, whose `user` is only the name asked
  // for). Such records are aggregated.
  bool unauthenticated_failure = false;
  Code code = Code::kOk;
};

struct AuditOptions {
  std::chrono::hours retention{24 * 90};    // 0: records are kept whatever their age
  int64_t max_bytes = int64_t{1024} << 20;  // of ferry.db's used pages; 0: no limit
  // A file of `reserve_bytes` kept beside the database and deleted when the
  // disk is full, so that the records of the operations already done can
  // still be written. Empty: none.
  std::string reserve_path;
  int64_t reserve_bytes = int64_t{8} << 20;
  // Failed logins written one by one per source address and minute; the
  // rest of the minute's are counted in one record.
  int login_failures_per_minute = 5;
  // Sources tracked at once by the aggregation; the overflow is counted
  // under the source "*".
  size_t max_aggregates = 10'000;
  // How often old records are pruned and, while records cannot be written,
  // writing is tried again.
  std::chrono::milliseconds housekeeping_period{60'000};
  // Called with every record given to Record or RecordDurable (aggregated
  // ones included), on the caller's thread, before it is queued: for
  // metrics. Must be cheap and must not call back into the log. Null: none.
  std::function<void(const AuditRecord&)> observer;
};

// Counts the unauthenticated failures of each (source, operation, outcome)
// per minute. Not thread-safe; AuditLog calls it under its lock.
class AuditAggregator {
 public:
  AuditAggregator(int login_failures_per_minute, size_t max_buckets)
      : login_failures_per_minute_(login_failures_per_minute), max_buckets_(max_buckets) {}

  // True if `record` is to be written as it is; false if it was counted.
  // `out` receives the summary of a minute that `record` ends for its key.
  bool Admit(const AuditRecord& record, std::vector<AuditRecord>& out);
  // Appends the summaries of the minutes before the one containing `now_us`
  // (of all minutes if `now_us` is INT64_MAX) and forgets them.
  void Expire(int64_t now_us, std::vector<AuditRecord>& out);
  size_t size() const { return buckets_.size(); }

 private:
  struct Bucket {
    int64_t minute = 0;
    int64_t first_us = 0;
    int admitted = 0;  // written one by one
    int64_t counted = 0;
    AuditRecord sample;              // remote, operation, code
    std::vector<std::string> users;  // the first few distinct user names asked for
    bool more_users = false;
  };
  static AuditRecord Summary(const Bucket& b);

  const int login_failures_per_minute_;
  const size_t max_buckets_;
  std::map<std::string, Bucket> buckets_;  // by source, operation and outcome
};

class AuditLog {
 public:
  explicit AuditLog(Db db, AuditOptions options = {});
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues `record`, or counts it if it is an unauthenticated failure past
  // what is written one by one. Thread-safe.
  void Record(AuditRecord record);
  // Queues `record` (never aggregated); the future holds OK once it is
  // committed, UNAVAILABLE if it could not be written. Thread-safe.
  std::future<Status> RecordDurable(AuditRecord record);
  // RecordDurable for several records queued at once, so that they are
  // committed together (the outcomes of a batch of files). One future each.
  std::vector<std::future<Status>> RecordDurable(std::vector<AuditRecord> records);
  // OK while records can be written; UNAVAILABLE (worded for the client)
  // from a failed write until writing works again. Thread-safe.
  Status Writable() const;
  // Blocks until everything recorded so far, aggregates included, has been
  // written or has failed (for tests and shutdown).
  void Flush();
  // Batches of records whose write failed, since the start (a batch written
  // after freeing the reserve counts again if that fails too). Thread-safe.
  uint64_t write_failures() const { return write_failures_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    AuditRecord record;
    std::optional<std::promise<Status>> done;
  };
  void Run();
  void Enqueue(Pending p, std::unique_lock<std::mutex>& lock);  // REQUIRES: lock holds mu_
  // The writer thread's work, without mu_ held.
  Status WriteWithReserve(const std::vector<Pending>& batch);
  Status Write(const std::vector<Pending>& batch);
  void Housekeep();
  void TryRecover();
  Status Prune();
  Status MakeReserve();

  const AuditOptions options_;
  Db db_;  // used only by the writer thread
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Pending> queue_;      // GUARDED_BY(mu_)
  AuditAggregator aggregator_;     // GUARDED_BY(mu_)
  uint64_t queued_ = 0;            // GUARDED_BY(mu_)
  uint64_t written_ = 0;           // GUARDED_BY(mu_)
  bool flush_aggregates_ = false;  // GUARDED_BY(mu_)
  bool stopping_ = false;          // GUARDED_BY(mu_)
  bool writable_ = true;           // GUARDED_BY(mu_)
  Status unwritable_;              // GUARDED_BY(mu_): why writing fails, while it does
  std::atomic<uint64_t> write_failures_{0};
  std::thread writer_;
};

// What `ferry log` asks for: the newest `limit` records (of one user, and
// since a time, if given), newest first.
struct AuditQuery {
  std::optional<std::string> user;
  int64_t since_us = 0;
  int limit = 50;
};
Result<std::vector<AuditRecord>> QueryAudit(Db& db, const AuditQuery& query);

// A --since value as Unix microseconds: an age before `now_us` ("90s",
// "30m", "2h", "7d") or a UTC date and time ("2026-12-06",
// "2026-12-06T15:04", "2026-12-06 15:04:05", optionally ending in "Z").
Result<int64_t> ParseSince(std::string_view text, int64_t now_us);

}  // namespace ferry
