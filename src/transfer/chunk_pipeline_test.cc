#include "transfer/chunk_pipeline.h"

#include <atomic>
#include <string>

#include <gtest/gtest.h>

#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

using testing::MakeChunk;

TEST(ChunkPipelineTest, DeliversEveryChunkInOrder) {
  std::string got;
  Status s = RunPipeline(
      2,
      [](ChunkQueue& q) -> Status {
        for (int i = 0; i < 1000; ++i) {
          if (!q.Push(MakeChunk(std::to_string(i) + ","))) return Status::Internal("abandoned");
        }
        return Status::Ok();
      },
      [&](Chunk& chunk) -> Status {
        got += chunk.data;
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
          if (!q.Push(MakeChunk("x"))) {
            producer_saw_abandon = true;
            return Status::Ok();
          }
          pushed++;
        }
        return Status::Ok();
      },
      [&](Chunk&) -> Status { return Status::ResourceExhausted("disk full"); });
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
        q.Push(MakeChunk("a"));
        q.Push(MakeChunk("b"));
        return Status::DataLoss("source vanished");
      },
      [&](Chunk&) -> Status {
        consumed++;
        return Status::Ok();
      });
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_EQ(consumed, 2);
}

TEST(ChunkPipelineTest, ReusesTheConsumersBuffers) {
  // The producer takes each chunk's buffer from the queue: after the first few
  // chunks every buffer it gets back already has a chunk's size, so sizing
  // it again costs no zero-filling.
  int reused = 0;
  Status s = RunPipeline(
      2,
      [&](ChunkQueue& q) -> Status {
        for (int i = 0; i < 100; ++i) {
          std::string buffer = q.TakeBuffer();
          if (buffer.size() == 4096) reused++;
          buffer.assign(4096, 'x');
          if (!q.Push(MakeChunk(std::move(buffer), "", i * 4096))) return Status::Ok();
        }
        return Status::Ok();
      },
      [&](Chunk& chunk) -> Status {
        EXPECT_EQ(chunk.data.size(), 4096u);
        return Status::Ok();
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(reused, 50);
}

}  // namespace
}  // namespace ferry
