#include "transfer/file_source.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "transfer/file_io.h"
#include "transfer/transfer_limits.h"
#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

using testing::PatternBytes;
using testing::ScratchDir;
using testing::WriteFile;

TEST(FileSourceTest, ReadsARangeOnTheChunkGridWithHashes) {
  ScratchDir dir;
  const std::string data = PatternBytes(3 * kChunkBytes + 1000);
  UniqueFd fd = WriteFile(dir.File("f"), data);
  ASSERT_TRUE(fd.valid());
  const int64_t begin = kChunkBytes / 2, end = static_cast<int64_t>(data.size());
  Sha256 running;
  ASSERT_TRUE(HashFile(fd.get(), begin, running).ok());
  SourceOptions options;
  options.running_hash = &running;
  options.chunk_sha256 = true;
  std::vector<Chunk> got;
  Status s = ReadChunks(fd.get(), begin, end, options, [&](Chunk& chunk) {
    got.push_back(testing::MakeChunk(chunk.data, chunk.sha256, chunk.offset));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  // Half a chunk up to the grid, two whole chunks, then the file's short tail.
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].offset, begin);
  EXPECT_EQ(got[0].data.size(), static_cast<size_t>(kChunkBytes / 2));
  EXPECT_TRUE(got[0].sha256.empty());  // not a whole grid chunk
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, static_cast<int64_t>(i) * kChunkBytes);
    EXPECT_EQ(got[i].data, data.substr(got[i].offset, got[i].data.size()));
    EXPECT_EQ(got[i].sha256, Sha256::HexOf(got[i].data)) << i;
  }
  EXPECT_EQ(got[3].data.size(), 1000u);
  EXPECT_EQ(running.FinishHex(), Sha256::HexOf(data));
}

TEST(FileSourceTest, AShortRangeEndIsNoWholeChunk) {
  ScratchDir dir;
  const std::string data = PatternBytes(2 * kChunkBytes);
  UniqueFd fd = WriteFile(dir.File("f"), data);
  SourceOptions options;
  options.chunk_sha256 = true;
  std::vector<std::string> hashes;
  ASSERT_TRUE(ReadChunks(fd.get(), 0, kChunkBytes + 10, options, [&](Chunk& chunk) {
                hashes.push_back(chunk.sha256);
                return Status::Ok();
              }).ok());
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(hashes[0], Sha256::HexOf(data.substr(0, kChunkBytes)));
  EXPECT_TRUE(hashes[1].empty());
}

TEST(FileSourceTest, AFileThatShrankIsDataLoss) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f"), PatternBytes(100));
  SourceOptions options;
  options.shrank_error = "it shrank";
  Status s = ReadChunks(fd.get(), 0, 200, options, [](Chunk&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_EQ(s.message(), "it shrank");
}

TEST(FileSourceTest, TheSendersErrorEndsTheRead) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f"), PatternBytes(5 * kChunkBytes));
  int sent = 0;
  Status s = ReadChunks(fd.get(), 0, 5 * kChunkBytes, {}, [&](Chunk&) {
    return ++sent == 2 ? Status::Cancelled("gone") : Status::Ok();
  });
  EXPECT_EQ(s.code(), Code::kCancelled);
  EXPECT_EQ(sent, 2);
}

}  // namespace
}  // namespace ferry
