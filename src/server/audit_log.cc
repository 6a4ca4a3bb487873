#include "server/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/unique_fd.h"
#include "transfer/publish.h"

namespace ferry {
namespace {

// Bounds memory if the disk stalls: past this, Record() waits for the writer.
constexpr size_t kMaxQueued = 100'000;
// Rows deleted per transaction when pruning, so writers wait little.
constexpr int kPruneBatch = 5'000;
constexpr int64_t kMinuteUs = 60'000'000;
constexpr size_t kUsersNamed = 3;
constexpr auto kRecoveryPeriod = std::chrono::seconds(1);
constexpr const char* kUnwritable = "the server cannot write its audit log; ask its administrator";
constexpr const char* kUnwritableFull =
    "the server cannot write its audit log: no space left on the server; ask its administrator";

// What a refused caller is told: a full disk is named, since freeing space is the cure.
Status Unwritable(const Status& cause) {
  return Status::Unavailable(cause.code() == Code::kResourceExhausted ? kUnwritableFull
                                                                      : kUnwritable);
}

std::string BucketKey(const AuditRecord& r, bool overflow) {
  return fmt::format("{}\n{}\n{}", overflow ? "*" : r.remote, r.operation,
                     static_cast<int>(r.code));
}

}  // namespace

bool AuditAggregator::Admit(const AuditRecord& record, std::vector<AuditRecord>& out) {
  if (!record.unauthenticated_failure) return true;
  int64_t minute = record.time_us / kMinuteUs;
  std::string key = BucketKey(record, false);
  auto it = buckets_.find(key);
  if (it == buckets_.end() && buckets_.size() >= max_buckets_) {
    key = BucketKey(record, true);
    it = buckets_.find(key);
  }
  if (it == buckets_.end()) {
    Bucket b;
    b.minute = minute;
    b.first_us = record.time_us;
    b.sample = record;
    if (key.front() == '*') b.sample.remote = "*";
    it = buckets_.emplace(std::move(key), std::move(b)).first;
  }
  Bucket& b = it->second;
  if (b.minute != minute) {
    if (b.counted > 0) out.push_back(Summary(b));
    AuditRecord sample = std::move(b.sample);
    b = Bucket{};
    b.minute = minute;
    b.first_us = record.time_us;
    b.sample = std::move(sample);
  }
  // A claimed user name (a failed login) gets a few records of its own.
  int allowance = record.user.empty() ? 0 : login_failures_per_minute_;
  if (b.admitted < allowance && b.sample.remote != "*") {
    b.admitted++;
    return true;
  }
  b.counted++;
  if (!record.user.empty() &&
      std::find(b.users.begin(), b.users.end(), record.user) == b.users.end()) {
    if (b.users.size() < kUsersNamed) {
      b.users.push_back(record.user);
    } else {
      b.more_users = true;
    }
  }
  return false;
}

void AuditAggregator::Expire(int64_t now_us, std::vector<AuditRecord>& out) {
  int64_t minute = now_us == INT64_MAX ? INT64_MAX : now_us / kMinuteUs;
  std::erase_if(buckets_, [&](const auto& kv) {
    if (kv.second.minute >= minute) return false;
    if (kv.second.counted > 0) out.push_back(Summary(kv.second));
    return true;
  });
}

int64_t AuditNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AuditRecord AuditAggregator::Summary(const Bucket& b) {
  AuditRecord r;
  r.time_us = b.first_us;
  r.remote = b.sample.remote;
  r.operation = b.sample.operation;
  r.code = b.sample.code;
  bool login = !b.users.empty();
  r.user = b.users.size() == 1 && !b.more_users ? b.users.front() : "(unauthenticated)";
  std::string what = login ? fmt::format("{} more failed {}s", b.counted, b.sample.operation)
                           : fmt::format("{} calls", b.counted);
  std::string names;
  if (login && r.user == "(unauthenticated)") {
    names = fmt::format(" (user names {}{})", fmt::join(b.users, ", "),
                        b.more_users ? " and others" : "");
  }
  r.result = fmt::format("{}: {} in this minute{}{}", CodeName(b.sample.code), what,
                         b.sample.remote == "*" ? " from many addresses" : "", names);
  return r;
}

AuditLog::AuditLog(Db db, AuditOptions options)
    : options_(std::move(options)),
      db_(std::move(db)),
      aggregator_(options_.login_failures_per_minute, options_.max_aggregates) {
  if (Status s = db_.Exec("CREATE INDEX IF NOT EXISTS audit_by_time ON audit(time_us)"); !s.ok()) {
    spdlog::warn("audit log: cannot index records by time: {}", s.ToString());
  }
  if (!options_.reserve_path.empty()) {
    if (Status s = MakeReserve(); !s.ok()) {
      spdlog::error(
          "audit log: cannot keep {} bytes in reserve ({}); mutating operations are "
          "refused until there is room",
          options_.reserve_bytes, s.ToString());
      writable_ = false;
      unwritable_ = Unwritable(s);
    }
  }
  writer_ = std::thread([this] { Run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

void AuditLog::Enqueue(Pending p, std::unique_lock<std::mutex>& lock) {
  drained_.wait(lock, [&] { return queue_.size() < kMaxQueued || stopping_; });
  queue_.push_back(std::move(p));
  queued_++;
}

void AuditLog::Record(AuditRecord record) {
  if (options_.observer) options_.observer(record);
  std::vector<AuditRecord> summaries;
  std::unique_lock lock(mu_);
  bool admitted = aggregator_.Admit(record, summaries);
  for (auto& s : summaries) Enqueue({std::move(s), std::nullopt}, lock);
  if (admitted) Enqueue({std::move(record), std::nullopt}, lock);
  lock.unlock();
  if (admitted || !summaries.empty()) wake_.notify_one();
}

std::future<Status> AuditLog::RecordDurable(AuditRecord record) {
  if (options_.observer) options_.observer(record);
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  std::unique_lock lock(mu_);
  Enqueue({std::move(record), std::move(done)}, lock);
  lock.unlock();
  wake_.notify_one();
  return result;
}

std::vector<std::future<Status>> AuditLog::RecordDurable(std::vector<AuditRecord> records) {
  std::vector<std::future<Status>> results;
  results.reserve(records.size());
  if (options_.observer) {
    for (const auto& record : records) options_.observer(record);
  }
  std::unique_lock lock(mu_);
  // Room for all of them at once: waiting between two would let the writer
  // commit the first part alone.
  drained_.wait(lock, [&] {
    return queue_.empty() || queue_.size() + records.size() <= kMaxQueued || stopping_;
  });
  for (auto& record : records) {
    std::promise<Status> done;
    results.push_back(done.get_future());
    queue_.push_back({std::move(record), std::move(done)});
    queued_++;
  }
  lock.unlock();
  wake_.notify_one();
  return results;
}

Status AuditLog::Writable() const {
  std::lock_guard lock(mu_);
  return writable_ ? Status::Ok() : unwritable_;
}

void AuditLog::Flush() {
  std::unique_lock lock(mu_);
  std::vector<AuditRecord> summaries;
  aggregator_.Expire(INT64_MAX, summaries);
  for (auto& s : summaries) Enqueue({std::move(s), std::nullopt}, lock);
  uint64_t target = queued_;
  wake_.notify_one();
  drained_.wait(lock, [&] { return written_ >= target; });
}

void AuditLog::Run() {
  auto now = std::chrono::steady_clock::now();
  auto next_prune = now;
  auto next_recovery = now + kRecoveryPeriod;
  auto next_expiry = now + std::chrono::seconds(1);
  std::unique_lock lock(mu_);
  for (;;) {
    auto wake_at = std::min({next_prune, next_expiry, writable_ ? next_prune : next_recovery});
    wake_.wait_until(lock, wake_at, [&] { return !queue_.empty() || stopping_; });
    now = std::chrono::steady_clock::now();
    std::vector<AuditRecord> summaries;
    if (stopping_ || now >= next_expiry) {
      aggregator_.Expire(stopping_ ? INT64_MAX : AuditNowUs(), summaries);
      next_expiry = now + std::chrono::seconds(1);
    }
    for (auto& s : summaries) {
      spdlog::warn("{} from {}: {}", s.operation, s.remote, s.result);
      queue_.push_back({std::move(s), std::nullopt});
      queued_++;
    }
    if (queue_.empty() && stopping_) return;
    std::vector<Pending> batch(std::make_move_iterator(queue_.begin()),
                               std::make_move_iterator(queue_.end()));
    queue_.clear();
    bool writable = writable_;
    lock.unlock();

    if (!writable && now >= next_recovery) {
      TryRecover();
      next_recovery = now + kRecoveryPeriod;
    }
    if (!batch.empty()) {
      Status s = WriteWithReserve(batch);
      for (auto& p : batch) {
        if (p.done) p.done->set_value(s.ok() ? Status::Ok() : Unwritable(s));
      }
    }
    if (now >= next_prune) {
      if (Status s = Prune(); !s.ok()) spdlog::error("audit log: cannot prune: {}", s.ToString());
      next_prune = now + options_.housekeeping_period;
    }

    lock.lock();
    written_ += batch.size();
    drained_.notify_all();
  }
}

Status AuditLog::WriteWithReserve(const std::vector<Pending>& batch) {
  Status s = Write(batch);
  if (s.ok()) return s;
  write_failures_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    writable_ = false;
    unwritable_ = Unwritable(s);
  }
  spdlog::error(
      "audit log: cannot write {} records ({}); mutating operations are refused "
      "until it can",
      batch.size(), s.ToString());
  if (options_.reserve_path.empty() || ::unlink(options_.reserve_path.c_str()) != 0) return s;
  spdlog::error("audit log: freed the {} byte reserve {} to write them; make room on its disk",
                options_.reserve_bytes, options_.reserve_path);
  Status again = Write(batch);
  if (!again.ok()) {
    write_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("audit log: {} records are lost: {}", batch.size(), again.ToString());
  }
  return again;
}

Status AuditLog::Write(const std::vector<Pending>& batch) {
  auto tx = Transaction::Begin(db_);
  if (!tx.ok()) return tx.status();
  auto stmt = db_.Prepare(
      "INSERT INTO audit(time_us, user, remote, operation, path, path2, result, bytes, "
      "duration_us) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  for (const auto& p : batch) {
    const AuditRecord& r = p.record;
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

// Writing works again once the reserve is back and a record goes in.
void AuditLog::TryRecover() {
  if (!options_.reserve_path.empty() && !MakeReserve().ok()) return;
  AuditRecord r;
  r.time_us = AuditNowUs();
  r.user = "(server)";
  r.operation = "audit";
  r.result = "OK: the audit log can be written again";
  std::vector<Pending> probe;
  probe.push_back({std::move(r), std::nullopt});
  if (!Write(probe).ok()) return;
  std::lock_guard lock(mu_);
  writable_ = true;
  spdlog::warn("audit log: records can be written again; mutating operations are accepted");
}

Status AuditLog::MakeReserve() {
  if (::access(options_.reserve_path.c_str(), F_OK) == 0) return Status::Ok();
  auto file = PendingFile::Create(options_.reserve_path, 0600);
  if (!file.ok()) return file.status();
  if (int err = ::posix_fallocate(file->fd(), 0, options_.reserve_bytes); err != 0) {
    return ErrnoStatus(err, "cannot allocate the audit reserve");
  }
  FERRY_RETURN_IF_ERROR(file->Commit(true, "cannot place the audit reserve").status);
  return Status::Ok();
}

Status AuditLog::Prune() {
  auto delete_oldest = [&](int64_t before_us, int64_t limit) -> Result<int> {
    auto stmt = db_.Prepare(
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE time_us < ?1 ORDER BY id "
        "LIMIT ?2)");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, before_us).Bind(2, limit);
    FERRY_RETURN_IF_ERROR(stmt->Run());
    return db_.Changes();
  };
  auto integer = [&](const std::string& sql) -> Result<int64_t> {
    auto stmt = db_.Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    return *row ? stmt->Int(0) : 0;
  };
  if (options_.retention.count() > 0) {
    int64_t cutoff =
        AuditNowUs() -
        std::chrono::duration_cast<std::chrono::microseconds>(options_.retention).count();
    for (;;) {
      auto n = delete_oldest(cutoff, kPruneBatch);
      if (!n.ok()) return n.status();
      if (*n > 0) spdlog::info("audit log: removed {} records older than the retention", *n);
      if (*n < kPruneBatch) break;
    }
  }
  if (options_.max_bytes <= 0) return Status::Ok();
  for (;;) {
    auto used = integer(
        "SELECT ((SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM "
        "pragma_freelist_count)) * (SELECT page_size FROM pragma_page_size)");
    if (!used.ok()) return used.status();
    if (*used <= options_.max_bytes) return Status::Ok();
    // Rows are about the same size: remove the share that is over, from the oldest.
    auto rows = integer("SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM audit");
    if (!rows.ok()) return rows.status();
    int64_t excess = *used - options_.max_bytes;
    int64_t want = std::clamp<int64_t>(*rows * excess / *used + 1, 1, kPruneBatch);
    auto n = delete_oldest(INT64_MAX, want);
    if (!n.ok()) return n.status();
    spdlog::info("audit log: removed the {} oldest records to stay within {} bytes", *n,
                 options_.max_bytes);
    if (*n == 0) return Status::Ok();
  }
}

Result<std::vector<AuditRecord>> QueryAudit(Db& db, const AuditQuery& query) {
  auto stmt = db.Prepare(
      "SELECT time_us, user, remote, operation, path, path2, result, bytes, duration_us "
      "FROM audit WHERE (?1 IS NULL OR user = ?1) AND time_us >= ?3 ORDER BY id DESC LIMIT ?2");
  if (!stmt.ok()) return stmt.status();
  if (query.user) {
    stmt->Bind(1, *query.user);
  } else {
    stmt->BindNull(1);
  }
  stmt->Bind(2, int64_t{query.limit});
  stmt->Bind(3, query.since_us);
  std::vector<AuditRecord> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    AuditRecord r;
    r.time_us = stmt->Int(0);
    r.user = stmt->Text(1);
    r.remote = stmt->Text(2);
    r.operation = stmt->Text(3);
    r.path = stmt->Text(4);
    r.path2 = stmt->Text(5);
    r.result = stmt->Text(6);
    r.bytes = stmt->Int(7);
    r.duration_us = stmt->Int(8);
    out.push_back(std::move(r));
  }
  return out;
}

Result<int64_t> ParseSince(std::string_view text, int64_t now_us) {
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format(
        "--since '{}' is neither an age like 30m, 2h or 7d nor a UTC time like 2026-12-06 or "
        "2026-12-06T15:04:05",
        text));
  };
  if (text.empty()) return bad();
  // An age: digits and one unit.
  if (text.find('-') == std::string_view::npos) {
    int64_t n = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (n > 1'000'000'000) return bad();
      n = n * 10 + (text[i] - '0');
    }
    if (i == 0 || i + 1 != text.size()) return bad();
    int64_t unit_s = 0;
    switch (text[i]) {
      case 's':
        unit_s = 1;
        break;
      case 'm':
        unit_s = 60;
        break;
      case 'h':
        unit_s = 3600;
        break;
      case 'd':
        unit_s = 86400;
        break;
      default:
        return bad();
    }
    return now_us - n * unit_s * 1'000'000;
  }
  std::string s(text);
  if (s.back() == 'Z') s.pop_back();
  tm t{};
  const char* end = nullptr;
  for (const char* format :
       {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    t = tm{};
    end = ::strptime(s.c_str(), format, &t);
    if (end != nullptr && *end == '\0') break;
    end = nullptr;
  }
  if (end == nullptr) return bad();
  return static_cast<int64_t>(::timegm(&t)) * 1'000'000;
}

}  // namespace ferry
