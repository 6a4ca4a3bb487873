#include "core/chunk_pipeline.h"

#include <atomic>
#include <string>

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ChunkPipelineTest, DeliversEveryChunkInOrder) {
  std::string got;
  Status s = RunPipeline(
      2,
      [](ChunkQueue& q) -> Status {
        for (int i = 0; i < 1000; ++i) {
          if (!q.Push(std::to_string(i) + ",")) return Status::Internal("abandoned");
        }
        return Status::Ok();
      },
      [&](std::string& chunk) -> Status {
        got += chunk;
        return Status::Ok();
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string want;
  for (int i = 0; i < 1000; ++i) want += std::to_string(i) + ",";
  EXPECT_EQ(got, want);
}

TEST(ChunkPipelineTest, ConsumerFailureStopsTheProducerAndIsReported) {
  std::atomic<int> pushed{0};
  bool producer_saw_abandon = false;
  Status s = RunPipeline(
      2,
      [&](ChunkQueue& q) -> Status {
        for (int i = 0; i < 1'000'000; ++i) {
          if (!q.Push("x")) {
            producer_saw_abandon = true;
            return Status::Ok();
          }
          pushed++;
        }
        return Status::Ok();
      },
      [&](std::string&) -> Status { return Status::ResourceExhausted("disk full"); });
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_EQ(s.message(), "disk full");
  EXPECT_TRUE(producer_saw_abandon);
  EXPECT_LT(pushed.load(), 10);  // bounded by the queue depth, not the input
}

TEST(ChunkPipelineTest, ProducerErrorIsReportedAfterWhatItDelivered) {
  int consumed = 0;
  Status s = RunPipeline(
      4,
      [](ChunkQueue& q) -> Status {
        q.Push("a");
        q.Push("b");
        return Status::DataLoss("source vanished");
      },
      [&](std::string&) -> Status {
        consumed++;
        return Status::Ok();
      });
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_EQ(consumed, 2);
}

}  // namespace
}  // namespace ferry
