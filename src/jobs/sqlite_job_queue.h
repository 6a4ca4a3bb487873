// The embedded queue: jobs persisted in the server's SQLite database and
// taken by a worker pool in the same process. After a restart (or kill -9),
// Recover() puts the jobs that were running back in the queue, so queued and
// interrupted jobs run again and finish.
//
// Take is fair across users rather than first in, first out: it picks the
// oldest queued job of the user with the fewest running jobs, and among users
// running equally many, of the one whose last job this queue started longest
// ago (round robin; a user it has not started a job for yet goes first). One
// user's long queue therefore delays another's job by at most the jobs
// already running.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/sqlite.h"
#include "jobs/job_queue.h"

namespace ferry::jobs {

class SqliteJobQueue final : public JobQueue {
 public:
  // Opens its own connection to the database at `path`, creating the table.
  static Result<std::unique_ptr<SqliteJobQueue>> Open(const std::string& path);

  // Requeues jobs left running by a previous process; cancels those that were
  // asked to stop. Call once at start, before any worker takes a job.
  Result<int> Recover();

  Status Submit(const Job& job, const std::string& sealed_secret) override;
  Result<Job> Get(const std::string& user, const std::string& id) override;
  Result<std::vector<Job>> List(const std::string& user, int limit) override;
  Result<int64_t> CountActive(const std::string& user) override;
  Result<int64_t> CountWaiting() override;
  Result<Job> Cancel(const std::string& user, const std::string& id) override;
  Result<std::optional<Claim>> Take(std::chrono::milliseconds wait) override;
  Result<bool> Heartbeat(const Claim& claim, uint64_t done, uint64_t total) override;
  Status Finish(const Claim& claim, const Job& outcome) override;
  Status Release(const Claim& claim) override;

 private:
  explicit SqliteJobQueue(Db db) : db_(std::move(db)) {}
  Result<std::optional<Claim>> TakeLocked();
  // The seq of the job Take hands out next, if any is queued.
  Result<std::optional<int64_t>> NextSeqLocked();
  Result<Job> GetLocked(const std::string& user, const std::string& id);

  std::mutex mu_;
  std::condition_variable submitted_;
  Db db_;  // GUARDED_BY(mu_)
  // GUARDED_BY(mu_): per user, the value of `takes_` when a job of theirs was
  // last taken; users missing were not served since this queue opened.
  std::unordered_map<std::string, uint64_t> last_take_;
  uint64_t takes_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace ferry::jobs
