#include "transfer/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/unique_fd.h"

namespace ferry {
namespace {

TEST(FileIoTest, PositionalWritesAndReadsAndPrefixHashes) {
  auto path = std::filesystem::temp_directory_path() / ("ferry-io-" + std::to_string(::getpid()));
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(WriteFullAt(fd.get(), "world", 5, 5, "write").ok());
  ASSERT_TRUE(WriteFullAt(fd.get(), "hello", 5, 0, "write").ok());
  char buf[16] = {};
  auto n = ReadFullAt(fd.get(), buf, sizeof buf, 0, "read");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "helloworld");  // short only at end of file

  Sha256 prefix;
  ASSERT_TRUE(HashFile(fd.get(), 5, prefix).ok());
  EXPECT_EQ(prefix.FinishHex(), Sha256::HexOf("hello"));
  Sha256 whole;
  ASSERT_TRUE(HashFile(fd.get(), -1, whole).ok());
  EXPECT_EQ(whole.FinishHex(), Sha256::HexOf("helloworld"));
  Sha256 too_long;
  EXPECT_EQ(HashFile(fd.get(), 11, too_long).code(), Code::kDataLoss);
  EXPECT_EQ(*Sha256OfFd(fd.get()), Sha256::HexOf("helloworld"));
  std::filesystem::remove(path);
}

TEST(FileIoTest, SequentialReadsFillTheBufferUntilTheInputEnds) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  // Two writes: one read(2) would return only the first.
  ASSERT_TRUE(WriteFull(write_end.get(), "abc", 3, "write").ok());
  ASSERT_TRUE(WriteFull(write_end.get(), "defgh", 5, "write").ok());
  write_end = UniqueFd();
  char buf[6] = {};
  auto n = ReadFull(read_end.get(), buf, sizeof buf, "read");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "abcdef");
  n = ReadFull(read_end.get(), buf, sizeof buf, "read");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "gh");  // short: the input ended
  n = ReadFull(read_end.get(), buf, sizeof buf, "read");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
}

TEST(FileIoTest, WriteToAPipeWithoutReaderIsReaderGone) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  read_end = UniqueFd();
  // The test binary may not ignore SIGPIPE as ferry does.
  auto previous = ::signal(SIGPIPE, SIG_IGN);
  Status s = WriteFull(write_end.get(), "x", 1, "cannot write");
  ::signal(SIGPIPE, previous);
  EXPECT_TRUE(IsReaderGone(s)) << s.ToString();
  EXPECT_FALSE(IsReaderGone(Status::Aborted("something else")));
  EXPECT_FALSE(IsReaderGone(Status::Ok()));
}

}  // namespace
}  // namespace ferry
