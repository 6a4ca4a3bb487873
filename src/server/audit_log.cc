#include "server/audit_log.h"

#include <spdlog/spdlog.h>

namespace ferry {
namespace {

// Bounds memory if the disk stalls: past this, Record() waits for the writer.
constexpr size_t kMaxQueued = 100'000;

}  // namespace

AuditLog::AuditLog(Db db) : db_(std::move(db)), writer_([this] { Run(); }) {}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

void AuditLog::Record(AuditRecord record) {
  std::unique_lock lock(mu_);
  drained_.wait(lock, [&] { return queue_.size() < kMaxQueued || stopping_; });
  queue_.push_back(std::move(record));
  queued_++;
  lock.unlock();
  wake_.notify_one();
}

void AuditLog::Flush() {
  std::unique_lock lock(mu_);
  uint64_t target = queued_;
  drained_.wait(lock, [&] { return written_ >= target; });
}

void AuditLog::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty() && stopping_) return;
    std::vector<AuditRecord> batch(std::make_move_iterator(queue_.begin()),
                                   std::make_move_iterator(queue_.end()));
    queue_.clear();
    lock.unlock();
    if (Status s = Write(batch); !s.ok()) {
      spdlog::error("audit log: cannot write {} records: {}", batch.size(), s.ToString());
    }
    lock.lock();
    written_ += batch.size();
    drained_.notify_all();
  }
}

Status AuditLog::Write(const std::vector<AuditRecord>& batch) {
  auto tx = Transaction::Begin(db_);
  if (!tx.ok()) return tx.status();
  auto stmt = db_.Prepare(
      "INSERT INTO audit(time_us, user, remote, operation, path, path2, result, bytes, "
      "duration_us) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  for (const auto& r : batch) {
    stmt->Reset();
    stmt->Bind(1, r.time_us)
        .Bind(2, r.user)
        .Bind(3, r.remote)
        .Bind(4, r.operation)
        .Bind(5, r.path)
        .Bind(6, r.path2)
        .Bind(7, r.result)
        .Bind(8, r.bytes)
        .Bind(9, r.duration_us);
    FERRY_RETURN_IF_ERROR(stmt->Run());
  }
  return tx->Commit();
}

Result<std::vector<AuditRecord>> QueryAudit(Db& db, const std::optional<std::string>& user,
                                            int limit) {
  auto stmt = db.Prepare(
      "SELECT time_us, user, remote, operation, path, path2, result, bytes, duration_us "
      "FROM audit WHERE (?1 IS NULL OR user = ?1) ORDER BY id DESC LIMIT ?2");
  if (!stmt.ok()) return stmt.status();
  if (user) {
    stmt->Bind(1, *user);
  } else {
    stmt->BindNull(1);
  }
  stmt->Bind(2, int64_t{limit});
  std::vector<AuditRecord> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({stmt->Int(0), stmt->Text(1), stmt->Text(2), stmt->Text(3), stmt->Text(4),
                   stmt->Text(5), stmt->Text(6), stmt->Int(7), stmt->Int(8)});
  }
  return out;
}

}  // namespace ferry
