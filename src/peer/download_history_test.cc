// The download history: kept across reopening, newest first, bounded.
#include "peer/download_history.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace ferry {
namespace {

HistoryEntry Entry(int i) {
  HistoryEntry e;
  e.id = "id" + std::to_string(i);
  e.sha256 = std::string(64, 'a');
  e.name = "file" + std::to_string(i) + ".bin";
  e.size = 1000 + i;
  e.state = i % 2 == 0 ? "done" : "failed";
  e.error = i % 2 == 0 ? "" : "no peer is left";
  e.started_at = 1'765'000'000 + i;
  e.finished_at = 1'765'000'010 + i;
  e.seconds = 1.25;
  e.rate = 800;
  e.path = i % 2 == 0 ? "/d/" + e.name : "";
  e.sources = {{"p1", "bob", "127.0.0.1:7443", 600}, {"p2", "", "127.0.0.1:7444", 400 + i}};
  return e;
}

TEST(DownloadHistoryTest, KeepsEntriesAcrossReopeningNewestFirst) {
  auto dir = std::filesystem::path(::testing::TempDir()) / "history-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "history.db").string();
  {
    auto history = DownloadHistory::Open(path);
    ASSERT_TRUE(history.ok()) << history.status().ToString();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*history)->Add(Entry(i)).ok());
  }
  auto history = DownloadHistory::Open(path);
  ASSERT_TRUE(history.ok());
  auto all = (*history)->Newest(100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].id, "id4");
  EXPECT_EQ((*all)[4].id, "id0");
  const HistoryEntry& e = (*all)[1];  // id3
  const HistoryEntry want = Entry(3);
  EXPECT_EQ(e.name, want.name);
  EXPECT_EQ(e.size, want.size);
  EXPECT_EQ(e.state, "failed");
  EXPECT_EQ(e.error, want.error);
  EXPECT_EQ(e.started_at, want.started_at);
  EXPECT_EQ(e.finished_at, want.finished_at);
  EXPECT_DOUBLE_EQ(e.seconds, 1.25);
  EXPECT_DOUBLE_EQ(e.rate, 800);
  ASSERT_EQ(e.sources.size(), 2u);
  EXPECT_EQ(e.sources[0].user, "bob");
  EXPECT_EQ(e.sources[1].address, "127.0.0.1:7444");
  EXPECT_EQ(e.sources[1].bytes, 403);
  auto two = (*history)->Newest(2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  // The same id again replaces the entry and counts as the newest.
  HistoryEntry again = Entry(0);
  again.state = "done";
  ASSERT_TRUE((*history)->Add(again).ok());
  auto count = (*history)->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 5);
  auto newest = (*history)->Newest(1);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ((*newest)[0].id, "id0");
}

TEST(DownloadHistoryTest, NamesThatAreNotUtf8AreKept) {
  auto dir = std::filesystem::path(::testing::TempDir()) / "history-utf8-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto history = DownloadHistory::Open((dir / "history.db").string());
  ASSERT_TRUE(history.ok());
  HistoryEntry e = Entry(1);
  e.name = "caf\xe9.txt";
  e.sources[0].user = "b\xffob";
  ASSERT_TRUE((*history)->Add(e).ok());
  auto all = (*history)->Newest(10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name, e.name);
  ASSERT_EQ((*all)[0].sources.size(), 2u);
}

}  // namespace
}  // namespace ferry
