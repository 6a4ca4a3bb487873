#include "server/audit_log.h"

#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "server/data_dir.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int64_t kMinuteUs = 60'000'000;

AuditRecord Unauthenticated(const std::string& remote, int64_t time_us,
                            const std::string& user = "") {
  AuditRecord r;
  r.time_us = time_us;
  r.remote = remote;
  r.user = user;
  r.operation = user.empty() ? "stat" : "login";
  r.code = Code::kUnauthenticated;
  r.result = "UNAUTHENTICATED: no";
  r.unauthenticated_failure = true;
  return r;
}

TEST(AuditAggregatorTest, CountsUnauthenticatedCallsPerSourceAndMinute) {
  AuditAggregator agg(5, 100);
  std::vector<AuditRecord> out;
  int64_t t0 = 1000 * kMinuteUs;
  for (int i = 0; i < 5123; ++i) EXPECT_FALSE(agg.Admit(Unauthenticated("1.2.3.4", t0 + i), out));
  AuditRecord ok;
  ok.user = "alice";
  EXPECT_TRUE(agg.Admit(ok, out));
  EXPECT_TRUE(out.empty());
  agg.Expire(t0 + 30'000'000, out);  // same minute: nothing yet
  EXPECT_TRUE(out.empty());
  agg.Expire(t0 + kMinuteUs, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].remote, "1.2.3.4");
  EXPECT_EQ(out[0].operation, "stat");
  EXPECT_EQ(out[0].user, "(unauthenticated)");
  EXPECT_EQ(out[0].result, "UNAUTHENTICATED: 5123 calls in this minute");
  EXPECT_EQ(agg.size(), 0u);
}

TEST(AuditAggregatorTest, FailedLoginsAreWrittenUntilAFewPerMinute) {
  AuditAggregator agg(5, 100);
  std::vector<AuditRecord> out;
  int64_t t0 = 1000 * kMinuteUs;
  int admitted = 0;
  for (int i = 0; i < 100; ++i) {
    admitted += agg.Admit(Unauthenticated("1.2.3.4", t0 + i, i < 50 ? "alice" : "bob"), out);
  }
  EXPECT_EQ(admitted, 5);
  // The next minute starts afresh and reports the last one.
  EXPECT_TRUE(agg.Admit(Unauthenticated("1.2.3.4", t0 + kMinuteUs, "alice"), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].result,
            "UNAUTHENTICATED: 95 more failed logins in this minute (user names alice, bob)");
  out.clear();
  for (int i = 0; i < 10; ++i) agg.Admit(Unauthenticated("1.2.3.4", t0 + kMinuteUs, "alice"), out);
  agg.Expire(INT64_MAX, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].user, "alice");
}

TEST(AuditAggregatorTest, ManySourcesShareOneBucketPastTheCap) {
  AuditAggregator agg(5, 10);
  std::vector<AuditRecord> out;
  int admitted = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::string remote = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    admitted += agg.Admit(Unauthenticated(remote, kMinuteUs, "u" + std::to_string(i)), out);
    ASSERT_LE(agg.size(), 11u);
  }
  EXPECT_EQ(admitted, 10) << "the first failed login of each tracked source";
  agg.Expire(INT64_MAX, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].remote, "*");
  EXPECT_EQ(out[0].result,
            "UNAUTHENTICATED: 9990 more failed logins in this minute from many addresses (user "
            "names u10, u11, u12 and others)");
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-audit-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Db Open() {
    auto db = DataDir{dir_.string()}.OpenDatabase();
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return std::move(db).value();
  }
  int64_t Count(Db& db, const std::string& where = "1") {
    auto stmt = db.Prepare("SELECT COUNT(*) FROM audit WHERE " + where);
    EXPECT_TRUE(stmt.ok());
    EXPECT_TRUE(stmt->Step().ok());
    return stmt->Int(0);
  }
  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // Waits up to 10 s for `done`.
  template <typename F>
  static bool Eventually(F done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  fs::path dir_;
};

TEST_F(AuditLogTest, AFloodOfUnauthenticatedCallsIsOneRecord) {
  Db reader = Open();
  {
    AuditLog log(Open());
    int64_t now = Now();
    for (int i = 0; i < 20'000; ++i) log.Record(Unauthenticated("1.2.3.4", now));
    AuditRecord ok;
    ok.time_us = now;
    ok.user = "alice";
    ok.operation = "stat";
    ok.result = "OK";
    log.Record(ok);
    log.Flush();
  }
  EXPECT_EQ(Count(reader), 2);
  auto rows = QueryAudit(reader, AuditQuery{});
  ASSERT_TRUE(rows.ok());
  bool found = false;
  for (const auto& r : *rows) {
    found |= r.result == "UNAUTHENTICATED: 20000 calls in this minute";
  }
  EXPECT_TRUE(found);
}

TEST_F(AuditLogTest, OldRecordsArePrunedByAge) {
  Db db = Open();
  ASSERT_TRUE(db.Exec("INSERT INTO audit(time_us, user, remote, operation, path, path2, result, "
                      "bytes, duration_us) VALUES (1000, 'old', '', 'ls', '', '', 'OK', 0, 0)")
                  .ok());
  AuditOptions options;
  options.retention = std::chrono::hours(24);
  AuditLog log(Open(), options);
  AuditRecord r;
  r.time_us = Now();
  r.user = "new";
  log.Record(r);
  log.Flush();
  EXPECT_TRUE(Eventually([&] { return Count(db, "user = 'old'") == 0; }));
  EXPECT_EQ(Count(db, "user = 'new'"), 1);
}

TEST_F(AuditLogTest, TheDatabaseStaysWithinItsSize) {
  Db db = Open();
  AuditOptions options;
  options.max_bytes = 512 << 10;
  options.housekeeping_period = 20ms;
  AuditLog log(Open(), options);
  AuditRecord r;
  r.user = "alice";
  r.operation = "stat";
  r.path = std::string(200, 'p');
  for (int i = 0; i < 20'000; ++i) {
    r.time_us = Now();
    log.Record(r);
  }
  log.Flush();
  auto used = [&] {
    auto stmt = db.Prepare(
        "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM "
        "pragma_freelist_count), (SELECT page_size FROM pragma_page_size)");
    EXPECT_TRUE(stmt.ok() && stmt->Step().ok());
    return stmt->Int(0) * stmt->Int(1);
  };
  EXPECT_TRUE(Eventually([&] { return used() <= options.max_bytes; })) << used();
  EXPECT_GT(Count(db), 0);
  EXPECT_LT(Count(db), 20'000);
}

TEST_F(AuditLogTest, AFailedWriteFailsTheDurableRecordUntilWritingWorks) {
  Db db = Open();
  AuditLog log(Open());
  AuditRecord r;
  r.time_us = Now();
  r.user = "alice";
  r.operation = "mkdir";
  EXPECT_TRUE(log.RecordDurable(r).get().ok());
  EXPECT_TRUE(log.Writable().ok());
  ASSERT_TRUE(db.Exec("ALTER TABLE audit RENAME TO audit_away").ok());
  Status failed = log.RecordDurable(r).get();
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_EQ(failed.message(), "the server cannot write its audit log; ask its administrator");
  EXPECT_EQ(log.Writable().code(), Code::kUnavailable);
  ASSERT_TRUE(db.Exec("ALTER TABLE audit_away RENAME TO audit").ok());
  EXPECT_TRUE(Eventually([&] { return log.Writable().ok(); }));
  EXPECT_TRUE(log.RecordDurable(r).get().ok());
  EXPECT_EQ(Count(db, "operation = 'audit'"), 1) << "the recovery is on record";
}

// A full disk (here SQLite's page limit, which fails as ENOSPC does) is named
// in the refusal, since making room is what the administrator must do.
TEST_F(AuditLogTest, AFullDiskIsNamedInTheRefusal) {
  Db full = Open();
  int64_t page_count = 0;
  {
    auto pages = full.Prepare("PRAGMA page_count");
    ASSERT_TRUE(pages.ok());
    ASSERT_TRUE(pages->Step().ok());
    page_count = pages->Int(0);
  }
  ASSERT_TRUE(full.Exec("PRAGMA max_page_count = " + std::to_string(page_count)).ok());
  AuditLog log(std::move(full));
  AuditRecord r;
  r.time_us = Now();
  r.user = "alice";
  r.operation = "put";
  r.path = std::string(64 << 10, 'x');  // needs pages the limit does not allow
  Status failed = log.RecordDurable(r).get();
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_EQ(failed.message(),
            "the server cannot write its audit log: no space left on the server; ask its "
            "administrator");
  EXPECT_EQ(log.Writable().message(), failed.message());
}

TEST_F(AuditLogTest, TheReserveIsKeptAndFreedWhenAWriteFails) {
  Db db = Open();
  AuditOptions options;
  options.reserve_path = (dir_ / "audit.reserve").string();
  options.reserve_bytes = 1 << 20;
  AuditLog log(Open(), options);
  ASSERT_EQ(fs::file_size(options.reserve_path), 1u << 20);
  ASSERT_TRUE(db.Exec("ALTER TABLE audit RENAME TO audit_away").ok());
  AuditRecord r;
  r.operation = "rm";
  EXPECT_FALSE(log.RecordDurable(r).get().ok());
  EXPECT_FALSE(fs::exists(options.reserve_path));
  ASSERT_TRUE(db.Exec("ALTER TABLE audit_away RENAME TO audit").ok());
  EXPECT_TRUE(Eventually([&] { return log.Writable().ok(); }));
  EXPECT_TRUE(fs::exists(options.reserve_path)) << "made again once there is room";
}

TEST(ParseSinceTest, AgesAndUtcTimes) {
  int64_t now = 1'800'000'000'000'000;
  EXPECT_EQ(*ParseSince("90s", now), now - 90'000'000);
  EXPECT_EQ(*ParseSince("30m", now), now - 1'800'000'000);
  EXPECT_EQ(*ParseSince("2h", now), now - 7'200'000'000);
  EXPECT_EQ(*ParseSince("7d", now), now - 604'800'000'000);
  EXPECT_EQ(*ParseSince("2026-12-06", now), int64_t{1'796'515'200} * 1'000'000);
  EXPECT_EQ(*ParseSince("2026-12-06T15:04:05Z", now), int64_t{1'796'569'445} * 1'000'000);
  EXPECT_EQ(*ParseSince("2026-12-06 15:04", now), int64_t{1'796'569'440} * 1'000'000);
  for (const char* bad : {"", "h", "2x", "-3d", "12", "2026-13-45", "2026-12-06T", "yesterday"}) {
    EXPECT_EQ(ParseSince(bad, now).status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace ferry
