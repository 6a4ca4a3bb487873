#include "peer/chunk_schedule.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ChunkScheduleTest, PeersTakeConsecutivePendingChunksAndSkipDoneOnes) {
  ChunkSchedule s({false, false, true, false, false, false});
  auto a = s.Take(0, 4);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, 0);
  EXPECT_EQ(a->count, 2);  // chunk 2 is done already
  auto b = s.Take(1, 2);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->first, 3);
  EXPECT_EQ(b->count, 2);
  EXPECT_EQ(s.pending_count(), 1);
}

TEST(ChunkScheduleTest, AReleasedChunkGoesBackToTheQueue) {
  ChunkSchedule s(std::vector<bool>(3, false));
  auto a = s.Take(0, 3);
  ASSERT_EQ(a->count, 3);
  EXPECT_TRUE(s.Complete(0, 0));
  s.Release(1, 0);
  s.Release(2, 0);
  auto b = s.Take(1, 3);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->first, 1);
  EXPECT_EQ(b->count, 2);
}

TEST(ChunkScheduleTest, EndgameAsksASecondPeerAndTheFirstCopyWins) {
  ChunkSchedule s(std::vector<bool>(2, false));
  ASSERT_EQ(s.Take(0, 2)->count, 2);
  // Nothing pending: the same peer gets nothing more, another gets a copy.
  EXPECT_FALSE(s.Take(0, 1));
  auto dup = s.Take(1, 4);
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->first, 0);
  EXPECT_EQ(dup->count, 1);
  auto dup2 = s.Take(1, 4);
  ASSERT_TRUE(dup2);
  EXPECT_EQ(dup2->first, 1);
  // At most two copies of a chunk are in flight.
  EXPECT_FALSE(s.Take(2, 4));
  EXPECT_TRUE(s.Complete(0, 1));
  EXPECT_FALSE(s.Complete(0, 0));
  EXPECT_TRUE(s.Complete(1, 0));
  s.Release(1, 1);
  EXPECT_TRUE(s.AllDone());
  EXPECT_FALSE(s.Take(3, 1));
}

TEST(ChunkScheduleTest, EndgameWaitsUntilAChunkHasBeenInFlightForAWhile) {
  ChunkSchedule s(std::vector<bool>(1, false));
  ASSERT_TRUE(s.Take(0, 1, /*now=*/100, /*endgame_after=*/500));
  EXPECT_FALSE(s.Take(1, 1, 599, 500));
  auto dup = s.Take(1, 1, 600, 500);
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->first, 0);
}

TEST(ChunkScheduleTest, AChunkLostByBothHoldersIsPendingAgain) {
  ChunkSchedule s(std::vector<bool>(1, false));
  ASSERT_TRUE(s.Take(0, 1));
  ASSERT_TRUE(s.Take(1, 1));
  s.Release(0, 0);
  EXPECT_EQ(s.pending_count(), 0);  // still in flight at peer 1
  s.Release(0, 1);
  EXPECT_EQ(s.pending_count(), 1);
  auto again = s.Take(2, 1);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->first, 0);
}

}  // namespace
}  // namespace ferry
