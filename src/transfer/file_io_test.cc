#include "transfer/file_io.h"

#include <fcntl.h>
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

}  // namespace
}  // namespace ferry
