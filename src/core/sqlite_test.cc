#include "core/sqlite.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace ferry {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ferry-sqlite-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path() const { return (dir_ / "t.db").string(); }

  std::filesystem::path dir_;
};

// Counts the rows a reused statement yields, stopping after `stop_after`
// (leaving it mid-way, as a search that filled its page does).
int CountRows(Db& db, int stop_after = 1 << 30) {
  auto stmt = db.Reuse("SELECT v FROM t WHERE v >= ? ORDER BY v");
  EXPECT_TRUE(stmt.ok());
  if (!stmt.ok()) return -1;
  (*stmt)->Bind(1, int64_t{0});
  int n = 0;
  while (n < stop_after) {
    auto row = (*stmt)->Step();
    EXPECT_TRUE(row.ok());
    if (!row.ok() || !*row) break;
    ++n;
  }
  return n;
}

TEST_F(SqliteTest, AReusedStatementStartsAfreshAndSeesLaterWrites) {
  auto reader = Db::Open(Path());
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(reader->Exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3)").ok());
  auto writer = Db::Open(Path());
  ASSERT_TRUE(writer.ok());

  // Left after one row: the handle resets it, so the next use reads from the
  // start, with a new snapshot that has the other connection's write.
  EXPECT_EQ(CountRows(*reader, 1), 1);
  ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES (4)").ok());
  EXPECT_EQ(CountRows(*reader), 4);

  // The left-over read would also have held the WAL: a full checkpoint by the
  // writer goes through only if no reader is stuck on an old snapshot.
  EXPECT_EQ(CountRows(*reader, 2), 2);
  ASSERT_TRUE(writer->Exec("INSERT INTO t VALUES (5)").ok());
  int log = -1, done = -1;
  ASSERT_EQ(
      sqlite3_wal_checkpoint_v2(writer->raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done),
      SQLITE_OK);
  EXPECT_EQ(CountRows(*reader), 5);
}

TEST_F(SqliteTest, AReusedStatementIsPreparedOncePerConnection) {
  auto db = Db::Open(Path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v INTEGER)").ok());
  sqlite3_stmt* first = nullptr;
  {
    auto stmt = db->Reuse("SELECT v FROM t");
    ASSERT_TRUE(stmt.ok());
    first = sqlite3_next_stmt(db->raw(), nullptr);
  }
  auto again = db->Reuse("SELECT v FROM t");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(sqlite3_next_stmt(db->raw(), nullptr), first);
  EXPECT_EQ(sqlite3_next_stmt(db->raw(), first), nullptr);  // still only one
  // Bad SQL is an error, not a cached statement.
  EXPECT_FALSE(db->Reuse("SELEC nothing").ok());
  EXPECT_EQ(sqlite3_next_stmt(db->raw(), first), nullptr);
}

// A full database is RESOURCE_EXHAUSTED through Exec (BEGIN, COMMIT and
// plain SQL) as through a statement, so that callers can name the cause.
TEST_F(SqliteTest, AFullDatabaseIsResourceExhaustedThroughExecAndStatements) {
  auto db = Db::Open(Path());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(db->Exec("CREATE TABLE big(v BLOB)").ok());
  ASSERT_TRUE(db->Exec("PRAGMA max_page_count = 8").ok());
  Status exec = db->Exec("INSERT INTO big VALUES(zeroblob(1000000))");
  EXPECT_EQ(exec.code(), Code::kResourceExhausted) << exec.ToString();
  auto stmt = db->Prepare("INSERT INTO big VALUES(zeroblob(1000000))");
  ASSERT_TRUE(stmt.ok());
  Status run = stmt->Run();
  EXPECT_EQ(run.code(), Code::kResourceExhausted) << run.ToString();
  EXPECT_EQ(db->Exec("SELECT * FROM no_such_table").code(), Code::kInternal);
}

}  // namespace
}  // namespace ferry
