#include "directory/name_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace ferry {
namespace {

using Ids = std::vector<int64_t>;

TEST(NameIndexTest, FindsNamesHoldingTheTextInIdOrderAfterAnId) {
  NameIndex index;
  index.Put(10, "blue song.ogg");
  index.Put(20, "red song.mp3");
  index.Put(30, "songbook.pdf");
  index.Put(40, "notes.txt");
  EXPECT_EQ(index.Find("song", 0, 10), (Ids{10, 20, 30}));
  EXPECT_EQ(index.Find("song", 10, 10), (Ids{20, 30}));
  EXPECT_EQ(index.Find("song", 0, 2), (Ids{10, 20}));
  EXPECT_EQ(index.Find("song", 30, 10), Ids{});
  EXPECT_EQ(index.Find("s", 0, 10), (Ids{10, 20, 30, 40}));  // shorter than a trigram
  EXPECT_EQ(index.Find("", 25, 10), (Ids{30, 40}));
  EXPECT_EQ(index.Find("song", 0, 0), Ids{});
  EXPECT_EQ(index.Find("songbook.pdf!", 0, 10), Ids{});  // longer than every name
  EXPECT_EQ(index.size(), 4u);
}

TEST(NameIndexTest, SeparatorsAreMatchedNotSkipped) {
  NameIndex index;
  index.Put(1, "museum museum.jpg");
  index.Put(2, "museum.museum.jpg");
  index.Put(3, "museum_museum.jpg");
  EXPECT_EQ(index.Find("museum.museum", 0, 10), Ids{2});
  EXPECT_EQ(index.Find("m m", 0, 10), Ids{1});
}

TEST(NameIndexTest, PutReplacesForgetRemovesAndOlderIdsGoInTheirPlace) {
  NameIndex index;
  index.Put(5, "alpha");
  index.Put(9, "alphabet");
  index.Put(7, "alpine");  // committed late: an older id after a newer one
  EXPECT_EQ(index.Find("alp", 0, 10), (Ids{5, 7, 9}));
  index.Put(5, "omega");
  EXPECT_EQ(index.Find("alp", 0, 10), (Ids{7, 9}));
  EXPECT_EQ(index.Find("omega", 0, 10), Ids{5});
  index.Forget(7);
  index.Forget(7);
  index.Forget(8);  // unknown: nothing happens
  EXPECT_EQ(index.Find("alp", 0, 10), Ids{9});
  EXPECT_EQ(index.size(), 2u);
  index.Put(7, "alpine");  // back again
  EXPECT_EQ(index.Find("alp", 0, 10), (Ids{7, 9}));
  EXPECT_EQ(index.size(), 3u);
  index.Clear();
  EXPECT_EQ(index.Find("", 0, 10), Ids{});
  EXPECT_EQ(index.size(), 0u);
}

// Many names forgotten and replaced: compaction runs and answers stay right.
TEST(NameIndexTest, AnswersStayRightThroughCompaction) {
  NameIndex index;
  for (int64_t id = 1; id <= 20000; ++id) {
    index.Put(id, "file " + std::to_string(id) + (id % 2 == 0 ? ".even" : ".odd"));
  }
  const size_t before = index.memory_bytes();
  for (int64_t id = 1; id <= 20000; id += 2) index.Forget(id);
  for (int64_t id = 2; id <= 4000; id += 2) index.Put(id, "renamed " + std::to_string(id));
  EXPECT_EQ(index.size(), 10000u);
  EXPECT_TRUE(index.Find(".odd", 0, 100).empty());
  auto renamed = index.Find("renamed", 0, 5000);
  ASSERT_EQ(renamed.size(), 2000u);
  EXPECT_EQ(renamed.front(), 2);
  EXPECT_EQ(renamed.back(), 4000);
  EXPECT_EQ(index.Find(".even", 0, 10000).size(), 8000u);
  EXPECT_EQ(index.Find("file 19998.even", 0, 10), Ids{19998});
  EXPECT_LT(index.memory_bytes(), before);  // the forgotten half was dropped
}

// Random names over a small alphabet (so texts match often, and signatures
// collide) against a plain scan of a map.
TEST(NameIndexTest, AgreesWithAPlainScan) {
  std::mt19937 rng(42);
  auto random_text = [&](size_t max_len) {
    std::string s(1 + rng() % max_len, ' ');
    for (char& c : s) c = "abc._ "[rng() % 6];
    return s;
  };
  NameIndex index;
  std::map<int64_t, std::string> truth;
  // Queries between the changes too, so that group signatures and their
  // slices left stale by a change (an older id put in its place, a
  // compaction, the slices growing) would show.
  auto check = [&](int queries) {
    for (int q = 0; q < queries; ++q) {
      std::string text = random_text(5);
      int64_t after = static_cast<int64_t>(rng() % 12000);
      size_t max = 1 + rng() % 200;
      Ids expected;
      for (auto it = truth.upper_bound(after); it != truth.end() && expected.size() < max; ++it) {
        if (it->second.find(text) != std::string::npos) expected.push_back(it->first);
      }
      ASSERT_EQ(index.Find(text, after, max), expected) << "text '" << text << "' after " << after;
    }
  };
  for (int round = 0; round < 20000; ++round) {
    // Mostly appends, as stores make them; some older ids and some forgotten.
    int64_t id = rng() % 8 == 0 ? 1 + static_cast<int64_t>(rng() % 12000)
                                : std::min<int64_t>(12000, 1 + round * 12000 / 20000);
    if (rng() % 4 == 0) {
      index.Forget(id);
      truth.erase(id);
    } else {
      std::string name = random_text(12);
      index.Put(id, name);
      truth[id] = name;
    }
    if (round % 2000 == 0) check(30);
    if (HasFatalFailure()) return;
  }
  check(300);
  EXPECT_EQ(index.size(), truth.size());
}

}  // namespace
}  // namespace ferry
