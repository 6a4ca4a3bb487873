#include "directory/search_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry {
namespace {

using std::chrono::milliseconds;

SearchQuery Text(const std::string& text, int limit = 50, int offset = 0) {
  return SearchQuery{text, "", limit, offset, 50};
}

SharedSearchAnswer Hits(const std::string& name, int peers = 1) {
  SearchHit hit{name, 7, std::string(64, 'a'), {}};
  for (int i = 0; i < peers; ++i) {
    hit.peers.push_back({"peer" + std::to_string(i), "127.0.0.1:1", std::string(64, 'c')});
  }
  return EncodeSearchAnswer({hit});
}

std::string NameIn(const SharedSearchAnswer& answer) {
  if (!answer) return "miss";
  return answer->hits.empty() ? "empty" : answer->hits.front().name;
}

TEST(SearchCacheTest, AnswersTheSameQueryUntilTheTtlEnds) {
  SearchCache cache(milliseconds(1000), 1 << 20);
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 0)), "miss");
  cache.Store(Text("song"), cache.Begin(), 100, Hits("song.ogg"));
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 100)), "song.ogg");
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 1099)), "song.ogg");
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 1100)), "miss");
  // A clock that went back does not make an answer fresh for longer.
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 99)), "miss");
}

TEST(SearchCacheTest, CountsWhatItIsTold) {
  SearchCache cache(milliseconds(1000), 1 << 20);
  cache.Count(true);
  cache.Count(false);
  cache.Count(true);
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().misses, 1u);
}

TEST(SearchCacheTest, EveryPartOfTheQueryIsPartOfTheKey) {
  SearchCache cache(milliseconds(1000), 1 << 20);
  cache.Store(Text("song"), cache.Begin(), 0, Hits("a"));
  EXPECT_EQ(NameIn(cache.Find(Text("Song"), 0)), "miss");
  EXPECT_EQ(NameIn(cache.Find(Text("song", 10), 0)), "miss");
  EXPECT_EQ(NameIn(cache.Find(Text("song", 50, 1), 0)), "miss");
  EXPECT_EQ(NameIn(cache.Find(SearchQuery{"song", "", 50, 0, 3}, 0)), "miss");
  EXPECT_EQ(NameIn(cache.Find(SearchQuery{"", "song", 50, 0, 50}, 0)), "miss");
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 0)), "a");
}

TEST(SearchCacheTest, InvalidateDropsAnswersAndAnyBeingComputed) {
  SearchCache cache(milliseconds(1000), 1 << 20);
  cache.Store(Text("song"), cache.Begin(), 0, Hits("old"));
  auto before = cache.Begin();  // a search starts...
  cache.Invalidate();           // ...a change lands...
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 0)), "miss");
  cache.Store(Text("song"), before, 0, Hits("stale"));  // ...its answer is not kept
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 0)), "miss");
  cache.Store(Text("song"), cache.Begin(), 0, Hits("fresh"));
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 0)), "fresh");
}

TEST(SearchCacheTest, StaysWithinItsBytesDroppingTheOldestFirst) {
  const size_t one = [] {
    SearchCache probe(milliseconds(1000), 1 << 20);
    probe.Store(Text("q0"), probe.Begin(), 0, Hits("n0", 20));
    return probe.stats().bytes;
  }();
  ASSERT_GT(one, 20u * 64);
  SearchCache cache(milliseconds(1000), one * 3);
  for (int i = 0; i < 5; ++i) {
    cache.Store(Text("q" + std::to_string(i)), cache.Begin(), i, Hits("n" + std::to_string(i), 20));
    EXPECT_LE(cache.stats().bytes, one * 3);
  }
  EXPECT_EQ(NameIn(cache.Find(Text("q0"), 5)), "miss");
  EXPECT_EQ(NameIn(cache.Find(Text("q1"), 5)), "miss");
  EXPECT_EQ(NameIn(cache.Find(Text("q2"), 5)), "n2");
  EXPECT_EQ(NameIn(cache.Find(Text("q4"), 5)), "n4");
  // An answer larger than the whole cache is not kept, and evicts nothing.
  cache.Store(Text("huge"), cache.Begin(), 5, Hits("h", 100));
  EXPECT_EQ(NameIn(cache.Find(Text("huge"), 5)), "miss");
  EXPECT_EQ(NameIn(cache.Find(Text("q4"), 5)), "n4");
}

TEST(SearchCacheTest, StoringAgainReplacesTheAnswer) {
  SearchCache cache(milliseconds(1000), 1 << 20);
  cache.Store(Text("song"), cache.Begin(), 0, Hits("first", 3));
  size_t bytes = cache.stats().bytes;
  cache.Store(Text("song"), cache.Begin(), 500, Hits("second", 3));
  // "second" is one byte longer, counted in the hit and in the JSON.
  EXPECT_EQ(cache.stats().bytes, bytes + 2);
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 1200)), "second");
}

TEST(SearchCacheTest, AZeroTtlKeepsNothing) {
  SearchCache cache(milliseconds(0), 1 << 20);
  cache.Store(Text("song"), cache.Begin(), 0, Hits("a"));
  EXPECT_EQ(NameIn(cache.Find(Text("song"), 0)), "miss");
  EXPECT_EQ(cache.stats().bytes, 0u);
}

}  // namespace
}  // namespace ferry
