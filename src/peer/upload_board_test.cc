// The upload board: one row per fetcher and content, its bytes and rate,
// gone a while after its last call.
#include "peer/upload_board.h"

#include <thread>

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

TEST(UploadBoardTest, OneRowPerFetcherAndContentWithItsBytes) {
  UploadBoard board;
  const std::string a(64, 'a');
  const std::string b(64, 'b');
  board.Begin("bob", "127.0.0.1:5000", a, "x.iso");
  board.Begin("bob", "127.0.0.1:5001", a, "x.iso");  // a second call of the same fetch
  board.Begin("carol", "127.0.0.1:6000", b, "y.iso");
  board.Sent("bob", a, 100);
  board.Sent("bob", a, 50);
  board.Sent("carol", b, 7);
  auto rows = board.Snapshot();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].user, "bob");
  EXPECT_EQ(rows[0].bytes, 150);
  EXPECT_EQ(rows[0].name, "x.iso");
  EXPECT_EQ(rows[1].user, "carol");
  EXPECT_EQ(rows[1].bytes, 7);
  board.End("bob", a);
  board.End("bob", a);
  board.End("carol", b);
  // Ended rows linger, then go.
  EXPECT_EQ(board.Snapshot().size(), 2u);
  auto later = UploadBoard::Clock::now() + UploadBoard::kLinger + 1s;
  EXPECT_TRUE(board.Snapshot(later).empty());
}

TEST(UploadBoardTest, RateIsRecentBytesPerSecond) {
  UploadBoard board;
  const std::string a(64, 'a');
  board.Begin("bob", "127.0.0.1:5000", a, "x.iso");
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);
    board.Sent("bob", a, 1000);
  }
  auto rows = board.Snapshot();
  ASSERT_EQ(rows.size(), 1u);
  // 5000 bytes in about 0.5 s (sleeps may run long, never short).
  EXPECT_GT(rows[0].rate, 2000);
  EXPECT_LT(rows[0].rate, 11000);
  // No bytes for longer than the window: no rate.
  auto later = UploadBoard::Clock::now() + RateMeter::kWindow + 500ms;
  auto idle = board.Snapshot(later);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].rate, 0);
}

}  // namespace
}  // namespace ferry
