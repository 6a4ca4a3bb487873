#include "jobs/sqlite_job_queue.h"

#include <fmt/format.h>

namespace ferry::jobs {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  user             TEXT NOT NULL,
  kind             TEXT NOT NULL,
  args             TEXT NOT NULL,
  secret           TEXT NOT NULL,
  state            TEXT NOT NULL,
  done_bytes       INTEGER NOT NULL DEFAULT 0,
  total_bytes      INTEGER NOT NULL DEFAULT 0,
  result           TEXT NOT NULL DEFAULT '',
  error_code       INTEGER NOT NULL DEFAULT 0,
  error            TEXT NOT NULL DEFAULT '',
  created_ms       INTEGER NOT NULL,
  started_ms       INTEGER NOT NULL DEFAULT 0,
  finished_ms      INTEGER NOT NULL DEFAULT 0,
  attempts         INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs(user, seq);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
)sql";

// Per user with queued jobs: the oldest one, and how many of the user's jobs run.
constexpr const char* kQueueHeads = R"sql(
WITH heads AS (SELECT user, MIN(seq) AS seq FROM jobs WHERE state = 'queued' GROUP BY user),
     running AS (SELECT user, COUNT(*) AS n FROM jobs WHERE state = 'running' GROUP BY user)
SELECT heads.user, heads.seq, COALESCE(running.n, 0) FROM heads
LEFT JOIN running ON running.user = heads.user
)sql";

constexpr const char* kColumns =
    "id, user, kind, args, state, done_bytes, total_bytes, result, error_code, error, "
    "created_ms, started_ms, finished_ms, attempts, cancel_requested";

Result<Job> ReadJob(const Statement& s, int first = 0) {
  Job job;
  job.id = s.Text(first + 0);
  job.user = s.Text(first + 1);
  auto kind = ParseKind(s.Text(first + 2));
  auto args = JobArgs::FromJson(s.Text(first + 3));
  auto state = ParseState(s.Text(first + 4));
  if (!kind || !args.ok() || !state) {
    return Status::DataLoss(fmt::format("job {} is stored malformed", job.id));
  }
  job.kind = *kind;
  job.args = std::move(args).value();
  job.state = *state;
  job.done_bytes = static_cast<uint64_t>(s.Int(first + 5));
  job.total_bytes = static_cast<uint64_t>(s.Int(first + 6));
  job.result = s.Text(first + 7);
  job.error_code = static_cast<Code>(s.Int(first + 8));
  job.error = s.Text(first + 9);
  job.created_ms = s.Int(first + 10);
  job.started_ms = s.Int(first + 11);
  job.finished_ms = s.Int(first + 12);
  job.attempts = static_cast<int>(s.Int(first + 13));
  job.cancel_requested = s.Int(first + 14) != 0;
  return job;
}

Status NotFound(const std::string& id) { return Status::NotFound(fmt::format("no job {}", id)); }

}  // namespace

Result<std::unique_ptr<SqliteJobQueue>> SqliteJobQueue::Open(const std::string& path) {
  auto db = Db::Open(path);
  if (!db.ok()) return db.status();
  FERRY_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<SqliteJobQueue>(new SqliteJobQueue(std::move(db).value()));
}

Result<int> SqliteJobQueue::Recover() {
  std::lock_guard lock(mu_);
  auto cancel = db_.Prepare(
      "UPDATE jobs SET state = 'cancelled', secret = '', finished_ms = ?, error_code = ?, "
      "error = 'the job was cancelled' WHERE state = 'running' AND cancel_requested = 1");
  if (!cancel.ok()) return cancel.status();
  FERRY_RETURN_IF_ERROR(
      cancel->Bind(1, NowUnixMs()).Bind(2, static_cast<int64_t>(Code::kCancelled)).Run());
  auto requeue = db_.Prepare("UPDATE jobs SET state = 'queued' WHERE state = 'running'");
  if (!requeue.ok()) return requeue.status();
  FERRY_RETURN_IF_ERROR(requeue->Run());
  return db_.Changes();
}

Status SqliteJobQueue::Submit(const Job& job, const std::string& sealed_secret) {
  {
    std::lock_guard lock(mu_);
    auto insert = db_.Prepare(
        "INSERT INTO jobs (id, user, kind, args, secret, state, created_ms) "
        "VALUES (?, ?, ?, ?, ?, 'queued', ?)");
    if (!insert.ok()) return insert.status();
    FERRY_RETURN_IF_ERROR(insert->Bind(1, job.id)
                              .Bind(2, job.user)
                              .Bind(3, KindName(job.kind))
                              .Bind(4, job.args.ToJson())
                              .Bind(5, sealed_secret)
                              .Bind(6, job.created_ms)
                              .Run());
  }
  submitted_.notify_one();
  return Status::Ok();
}

Result<Job> SqliteJobQueue::GetLocked(const std::string& user, const std::string& id) {
  auto select = db_.Prepare(fmt::format("SELECT {} FROM jobs WHERE id = ? AND user = ?", kColumns));
  if (!select.ok()) return select.status();
  select->Bind(1, id).Bind(2, user);
  auto row = select->Step();
  if (!row.ok()) return row.status();
  if (!*row) return NotFound(id);
  return ReadJob(*select);
}

Result<Job> SqliteJobQueue::Get(const std::string& user, const std::string& id) {
  std::lock_guard lock(mu_);
  return GetLocked(user, id);
}

Result<std::vector<Job>> SqliteJobQueue::List(const std::string& user, int limit) {
  std::lock_guard lock(mu_);
  auto select = db_.Prepare(
      fmt::format("SELECT {} FROM jobs WHERE user = ? ORDER BY seq DESC LIMIT ?", kColumns));
  if (!select.ok()) return select.status();
  select->Bind(1, user).Bind(2, static_cast<int64_t>(limit));
  std::vector<Job> jobs;
  for (;;) {
    auto row = select->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto job = ReadJob(*select);
    if (!job.ok()) return job.status();
    jobs.push_back(std::move(job).value());
  }
  return jobs;
}

Result<int64_t> SqliteJobQueue::CountActive(const std::string& user) {
  std::lock_guard lock(mu_);
  auto count =
      db_.Prepare("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') AND user = ?");
  if (!count.ok()) return count.status();
  count->Bind(1, user);
  auto row = count->Step();
  if (!row.ok()) return row.status();
  return *row ? count->Int(0) : 0;
}

Result<int64_t> SqliteJobQueue::CountWaiting() {
  std::lock_guard lock(mu_);
  auto count = db_.Prepare("SELECT COUNT(*) FROM jobs WHERE state = 'queued'");
  if (!count.ok()) return count.status();
  auto row = count->Step();
  if (!row.ok()) return row.status();
  return *row ? count->Int(0) : 0;
}

Result<Job> SqliteJobQueue::Cancel(const std::string& user, const std::string& id) {
  std::lock_guard lock(mu_);
  auto queued = db_.Prepare(
      "UPDATE jobs SET state = 'cancelled', secret = '', cancel_requested = 1, finished_ms = ?, "
      "error_code = ?, error = 'the job was cancelled' "
      "WHERE id = ? AND user = ? AND state = 'queued'");
  if (!queued.ok()) return queued.status();
  FERRY_RETURN_IF_ERROR(queued->Bind(1, NowUnixMs())
                            .Bind(2, static_cast<int64_t>(Code::kCancelled))
                            .Bind(3, id)
                            .Bind(4, user)
                            .Run());
  auto running = db_.Prepare(
      "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND user = ? AND state = 'running'");
  if (!running.ok()) return running.status();
  FERRY_RETURN_IF_ERROR(running->Bind(1, id).Bind(2, user).Run());
  return GetLocked(user, id);
}

Result<std::optional<int64_t>> SqliteJobQueue::NextSeqLocked() {
  auto heads = db_.Prepare(kQueueHeads);
  if (!heads.ok()) return heads.status();
  struct Pick {
    int64_t running;
    uint64_t last_take;
    int64_t seq;
    auto operator<=>(const Pick&) const = default;
  };
  std::optional<Pick> best;
  for (;;) {
    auto row = heads->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto last = last_take_.find(heads->Text(0));
    Pick pick{heads->Int(2), last == last_take_.end() ? 0 : last->second, heads->Int(1)};
    if (!best || pick < *best) best = pick;
  }
  if (!best) return std::optional<int64_t>();
  return std::optional<int64_t>(best->seq);
}

Result<std::optional<Claim>> SqliteJobQueue::TakeLocked() {
  auto next = NextSeqLocked();
  if (!next.ok()) return next.status();
  if (!next->has_value()) return std::optional<Claim>();
  auto take = db_.Prepare(
      fmt::format("UPDATE jobs SET state = 'running', attempts = attempts + 1, started_ms = ?, "
                  "done_bytes = 0, total_bytes = 0 "
                  "WHERE seq = ? AND state = 'queued' RETURNING {}, secret",
                  kColumns));
  if (!take.ok()) return take.status();
  take->Bind(1, NowUnixMs()).Bind(2, **next);
  auto row = take->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Claim>();
  auto job = ReadJob(*take);
  if (!job.ok()) return job.status();
  Claim claim{std::move(job).value(), take->Text(15), ""};
  claim.receipt = std::to_string(claim.job.attempts);
  last_take_[claim.job.user] = ++takes_;
  // RETURNING rows are produced as the statement steps; finish it.
  auto rest = take->Step();
  if (!rest.ok()) return rest.status();
  return std::optional<Claim>(std::move(claim));
}

Result<std::optional<Claim>> SqliteJobQueue::Take(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto claim = TakeLocked();
    if (!claim.ok() || claim->has_value()) return claim;
    if (submitted_.wait_until(lock, deadline) == std::cv_status::timeout) return TakeLocked();
  }
}

Result<bool> SqliteJobQueue::Heartbeat(const Claim& claim, uint64_t done, uint64_t total) {
  std::lock_guard lock(mu_);
  auto update = db_.Prepare(
      "UPDATE jobs SET done_bytes = ?, total_bytes = ? "
      "WHERE id = ? AND attempts = ? AND state = 'running' RETURNING cancel_requested");
  if (!update.ok()) return update.status();
  update->Bind(1, static_cast<int64_t>(done))
      .Bind(2, static_cast<int64_t>(total))
      .Bind(3, claim.job.id)
      .Bind(4, static_cast<int64_t>(claim.job.attempts));
  auto row = update->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Aborted(fmt::format("job {} is no longer ours", claim.job.id));
  bool cancel = update->Int(0) != 0;
  auto rest = update->Step();
  if (!rest.ok()) return rest.status();
  return cancel;
}

Status SqliteJobQueue::Finish(const Claim& claim, const Job& outcome) {
  std::lock_guard lock(mu_);
  auto update = db_.Prepare(
      "UPDATE jobs SET state = ?, secret = '', done_bytes = ?, total_bytes = ?, result = ?, "
      "error_code = ?, error = ?, finished_ms = ? "
      "WHERE id = ? AND attempts = ? AND state = 'running'");
  if (!update.ok()) return update.status();
  FERRY_RETURN_IF_ERROR(update->Bind(1, StateName(outcome.state))
                            .Bind(2, static_cast<int64_t>(outcome.done_bytes))
                            .Bind(3, static_cast<int64_t>(outcome.total_bytes))
                            .Bind(4, outcome.result)
                            .Bind(5, static_cast<int64_t>(outcome.error_code))
                            .Bind(6, outcome.error)
                            .Bind(7, NowUnixMs())
                            .Bind(8, claim.job.id)
                            .Bind(9, static_cast<int64_t>(claim.job.attempts))
                            .Run());
  if (db_.Changes() == 0)
    return Status::Aborted(fmt::format("job {} is no longer ours", claim.job.id));
  return Status::Ok();
}

Status SqliteJobQueue::Release(const Claim& claim) {
  {
    std::lock_guard lock(mu_);
    auto update = db_.Prepare(
        "UPDATE jobs SET state = 'queued' WHERE id = ? AND attempts = ? AND state = 'running'");
    if (!update.ok()) return update.status();
    FERRY_RETURN_IF_ERROR(
        update->Bind(1, claim.job.id).Bind(2, static_cast<int64_t>(claim.job.attempts)).Run());
  }
  submitted_.notify_one();
  return Status::Ok();
}

}  // namespace ferry::jobs
