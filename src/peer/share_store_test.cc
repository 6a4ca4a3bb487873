// The share index's file: an index written before hashed_at was recorded
// keeps its hashes (nothing is hashed again), and new rows record it.
#include "peer/share_store.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/sqlite.h"

namespace ferry {
namespace {

TEST(ShareStoreTest, AnIndexFromBeforeHashedAtKeepsItsHashes) {
  auto dir = std::filesystem::path(::testing::TempDir()) / "share-store-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "share-index.db").string();
  const std::string hex(64, 'a');
  {
    // The version 1 table, as an older ferry wrote it.
    auto db = Db::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE shared_files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
                         "mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, device INTEGER NOT "
                         "NULL, sha256 TEXT NOT NULL, chunk_sha256s TEXT NOT NULL, chunk_root "
                         "TEXT NOT NULL, recheck INTEGER NOT NULL);"
                         "PRAGMA user_version = 1;")
                    .ok());
    ASSERT_TRUE(db->Exec("INSERT INTO shared_files VALUES ('a.txt', 5, 7, 8, 9, '" + hex + "', '" +
                         hex + "', '" + hex + "', 0)")
                    .ok());
  }
  auto store = ShareStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rows = store->All();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].file.sha256, hex);
  EXPECT_EQ((*rows)[0].file.hashed_at, 0);

  SharedFile f = (*rows)[0].file;
  f.path = "b.txt";
  f.hashed_at = 1'765'000'000;
  ASSERT_TRUE(store->Put(f, false).ok());
  auto found = store->All();
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[1].file.hashed_at, 1'765'000'000);
  // hashed_at is not part of a record's identity.
  SharedFile later = f;
  later.hashed_at += 60;
  EXPECT_EQ(later, f);
}

}  // namespace
}  // namespace ferry
