#include "transfer/ranged_read.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "transfer/hash_cache.h"
#include "transfer/transfer_limits.h"
#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

using testing::PatternBytes;
using testing::ScratchDir;
using testing::WriteFile;

struct Reply {
  std::string data;
  std::vector<std::string> chunk_sha256s;
  std::string prefix_sha256;
  int lasts = 0;
};

Reply Serve(const OpenFile& file, ByteRange range, bool chunk_sha256) {
  Reply reply;
  RangeOptions options;
  options.chunk_sha256 = chunk_sha256;
  Status s = ServeRange(file, range, options, [&](Chunk& chunk, bool last, const std::string& sha) {
    reply.data += chunk.data;
    reply.chunk_sha256s.push_back(chunk.sha256);
    if (last) {
      reply.lasts++;
      reply.prefix_sha256 = sha;
    }
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return reply;
}

OpenFile Open(const std::string& path, const std::string& data) {
  OpenFile file;
  file.fd = WriteFile(path, data);
  file.info = *StatFd(file.fd.get());
  return file;
}

TEST(RangedReadTest, ResolvesRanges) {
  EXPECT_EQ(ResolveRange(100, 10, 0, "f")->end, 100);
  EXPECT_EQ(ResolveRange(100, 10, 20, "f")->end, 30);
  EXPECT_EQ(ResolveRange(100, 10, INT64_MAX, "f")->end, 100);  // no overflow
  EXPECT_EQ(ResolveRange(100, 100, 0, "f")->begin, 100);
  EXPECT_EQ(ResolveRange(100, 101, 0, "f").status().code(), Code::kOutOfRange);
  EXPECT_EQ(ResolveRange(100, -1, 0, "f").status().code(), Code::kOutOfRange);
  EXPECT_EQ(ResolveRange(100, 0, -1, "f").status().code(), Code::kInvalidArgument);
  EXPECT_NE(ResolveRange(100, 0, -1, "f").status().message().find("length is negative"),
            std::string::npos);
}

TEST(RangedReadTest, AMiddleRangeCarriesItsBytesPrefixHashAndWholeChunkHashes) {
  ScratchDir dir;
  const std::string data = PatternBytes(4 * kChunkBytes + 5);
  OpenFile file = Open(dir.File("f"), data);
  Reply reply = Serve(file, {kChunkBytes, 3 * kChunkBytes}, true);
  EXPECT_EQ(reply.data, data.substr(kChunkBytes, 2 * kChunkBytes));
  EXPECT_EQ(reply.lasts, 1);
  EXPECT_EQ(reply.prefix_sha256, Sha256::HexOf(data.substr(0, 3 * kChunkBytes)));
  ASSERT_EQ(reply.chunk_sha256s.size(), 2u);
  EXPECT_EQ(reply.chunk_sha256s[0], Sha256::HexOf(data.substr(kChunkBytes, kChunkBytes)));
  EXPECT_EQ(reply.chunk_sha256s[1], Sha256::HexOf(data.substr(2 * kChunkBytes, kChunkBytes)));
}

TEST(RangedReadTest, WithoutTheOptionNoChunkHashes) {
  ScratchDir dir;
  OpenFile file = Open(dir.File("f"), PatternBytes(2 * kChunkBytes));
  Reply reply = Serve(file, {0, 2 * kChunkBytes}, false);
  for (const auto& h : reply.chunk_sha256s) EXPECT_TRUE(h.empty());
}

TEST(RangedReadTest, AnEmptyRangeStillAnswersOnceWithTheHash) {
  ScratchDir dir;
  OpenFile file = Open(dir.File("f"), "abc");
  Reply reply = Serve(file, {3, 3}, true);
  EXPECT_EQ(reply.lasts, 1);
  EXPECT_EQ(reply.data, "");
  EXPECT_EQ(reply.prefix_sha256, Sha256::HexOf("abc"));
}

TEST(RangedReadTest, AWholeFileReadFillsTheHashCacheWhichLaterReadsUse) {
  ScratchDir dir;
  const std::string data = PatternBytes(2 * kChunkBytes + 7);
  OpenFile file = Open(dir.File("f"), data);
  Reply first = Serve(file, {0, static_cast<int64_t>(data.size())}, true);
  auto cached = CachedSha256(file.fd.get(), file.info);
  if (!cached) GTEST_SKIP() << "this file system has no user xattrs";
  EXPECT_EQ(*cached, Sha256::HexOf(data));
  auto chunks = CachedChunkSha256s(file.fd.get(), file.info);
  ASSERT_TRUE(chunks.has_value());
  EXPECT_EQ(*chunks, first.chunk_sha256s);
  // What the cache says is what a later read sends, without hashing again:
  // a planted chunk hash shows that it came from the cache.
  std::vector<std::string> planted = *chunks;
  planted[1] = Sha256::HexOf("planted");
  StoreChunkSha256s(file.fd.get(), file.info, planted);
  Reply second = Serve(file, {kChunkBytes, static_cast<int64_t>(data.size())}, true);
  ASSERT_EQ(second.chunk_sha256s.size(), 2u);
  EXPECT_EQ(second.chunk_sha256s[0], planted[1]);
  EXPECT_EQ(second.prefix_sha256, Sha256::HexOf(data));
}

}  // namespace
}  // namespace ferry
