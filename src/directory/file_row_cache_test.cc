#include "directory/file_row_cache.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using std::chrono::milliseconds;

std::pair<int64_t, SharedFileRow> Row(int64_t id) {
  return {id, std::make_shared<const FileRow>(
                  FileRow{"f" + std::to_string(id), id, std::string(64, 'a'), "p"})};
}

// Which of `ids` the cache has at `now`, as "id,id,...".
std::string Held(const FileRowCache& cache, std::vector<int64_t> ids, int64_t now) {
  std::string out;
  auto rows = cache.Find(ids, now);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!rows[i]) continue;
    EXPECT_EQ(rows[i]->name, "f" + std::to_string(ids[i]));
    out += (out.empty() ? "" : ",") + std::to_string(ids[i]);
  }
  return out;
}

TEST(FileRowCacheTest, RowsAreFoundUntilTooOldOrForgotten) {
  FileRowCache cache(100, milliseconds(1000));
  cache.Put({Row(1), Row(2), Row(3)}, 5000);
  EXPECT_EQ(Held(cache, {1, 2, 3, 4}, 5000), "1,2,3");
  EXPECT_EQ(Held(cache, {3, 1}, 5999), "3,1");
  EXPECT_EQ(Held(cache, {1, 2, 3}, 6000), "");
  cache.Put({Row(2)}, 6000);  // read again
  EXPECT_EQ(Held(cache, {1, 2, 3}, 6500), "2");
  cache.Forget({2, 7});
  EXPECT_EQ(Held(cache, {1, 2, 3}, 6500), "");
}

TEST(FileRowCacheTest, HoldsAtMostItsRowsKeepingTheNewest) {
  FileRowCache cache(4, milliseconds(1000));
  cache.Put({Row(1), Row(2)}, 0);
  cache.Put({Row(3), Row(4)}, 0);  // 1 and 2 are the older half now
  EXPECT_EQ(Held(cache, {1, 2, 3, 4}, 0), "1,2,3,4");
  cache.Put({Row(5)}, 0);  // 3 and 4 become the older half; 1 and 2 go
  EXPECT_EQ(Held(cache, {1, 2, 3, 4, 5}, 0), "3,4,5");
  EXPECT_LE(cache.size(), 4u);

  FileRowCache none(0, milliseconds(1000));
  none.Put({Row(1)}, 0);
  EXPECT_EQ(Held(none, {1}, 0), "");
}

}  // namespace
}  // namespace ferry
