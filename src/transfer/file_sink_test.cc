#include "transfer/file_sink.h"

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "transfer/chunk_pipeline.h"
#include "transfer/file_io.h"
#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

using testing::MakeChunk;
using testing::ScratchDir;
using testing::WriteFile;

std::string Contents(int fd) {
  char buf[64];
  auto n = ReadFullAt(fd, buf, sizeof buf, 0, "read");
  return n.ok() ? std::string(buf, *n) : "";
}

TEST(FileSinkTest, ResumesAfterWhatIsHeldAndChecksTheWholeHash) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f"), "hello ");
  auto sink = FileSink::Resume(fd.get(), 6, "write");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(sink->ExpectSize(11));
  ASSERT_TRUE(sink->Admit(5));
  ASSERT_TRUE(sink->Write(MakeChunk("world")).ok());
  EXPECT_TRUE(sink->complete());
  EXPECT_EQ(Contents(fd.get()), "hello world");
  EXPECT_TRUE(sink->Matches(Sha256::HexOf("hello world")));
  EXPECT_EQ(sink->sha256(), Sha256::HexOf("hello world"));
}

TEST(FileSinkTest, UpperCaseHexMatchesAndAnotherHashDoesNot) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f"), "");
  auto sink = FileSink::Resume(fd.get(), 0, "write");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(sink->Write(MakeChunk("abc")).ok());
  std::string upper = Sha256::HexOf("abc");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(sink->Matches(upper));

  auto other = FileSink::Resume(fd.get(), 3, "write");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Matches(Sha256::HexOf("abd")));
}

TEST(FileSinkTest, RefusesBytesPastTheSize) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f"), "");
  auto sink = FileSink::Resume(fd.get(), 0, "write");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(sink->ExpectSize(4));
  EXPECT_TRUE(sink->Admit(3));
  EXPECT_FALSE(sink->Admit(2));  // 5 > 4: not counted
  EXPECT_TRUE(sink->Admit(1));
  EXPECT_FALSE(sink->Admit(1));
}

TEST(FileSinkTest, HoldingMoreThanTheSizeIsRefused) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f"), "0123456789");
  auto sink = FileSink::Resume(fd.get(), 10, "write");
  ASSERT_TRUE(sink.ok());
  EXPECT_FALSE(sink->ExpectSize(5));
}

TEST(FileSinkTest, AChunkThatFailsItsHashIsNotWritten) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f"), "");
  auto sink = FileSink::Resume(fd.get(), 0, "write");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(sink->Write(MakeChunk("good", Sha256::HexOf("good"))).ok());
  Status bad = sink->Write(MakeChunk("evil", Sha256::HexOf("good"), 4));
  EXPECT_EQ(bad.code(), Code::kDataLoss);
  EXPECT_NE(bad.message().find("byte 4"), std::string::npos) << bad.message();
  EXPECT_EQ(sink->written(), 4);
  EXPECT_EQ(Contents(fd.get()), "good");
}

}  // namespace
}  // namespace ferry
