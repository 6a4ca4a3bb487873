#include "transfer/hash_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/sha256.h"
#include "core/unique_fd.h"

namespace ferry {
namespace {

TEST(HashCacheTest, RemembersUntilSizeOrMtimeChange) {
  auto path = std::filesystem::temp_directory_path() / ("ferry-hc-" + std::to_string(::getpid()));
  std::ofstream(path) << "hello";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  auto info = StatFd(fd.get());
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(CachedSha256(fd.get(), *info).has_value());
  std::string hex = Sha256::HexOf("hello");
  StoreSha256(fd.get(), *info, hex);
  auto cached = CachedSha256(fd.get(), *info);
  if (!cached) GTEST_SKIP() << "this file system has no user xattrs";
  EXPECT_EQ(*cached, hex);

  // Same size, new contents and mtime: the entry no longer applies.
  ASSERT_EQ(::pwrite(fd.get(), "HELLO", 5, 0), 5);
  timespec later[2] = {{0, UTIME_OMIT}, {info->mtime_ns / 1'000'000'000 + 5, 0}};
  ASSERT_EQ(::futimens(fd.get(), later), 0);
  auto changed = StatFd(fd.get());
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(CachedSha256(fd.get(), *changed).has_value());
  std::filesystem::remove(path);
}

TEST(HashCacheTest, ChunkHashesNeedTheRightCountAndIdentity) {
  auto path = std::filesystem::temp_directory_path() / ("ferry-hcc-" + std::to_string(::getpid()));
  std::ofstream(path) << "hello";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  auto info = StatFd(fd.get());
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(CachedChunkSha256s(fd.get(), *info).has_value());
  std::vector<std::string> one = {Sha256::HexOf("hello")};
  StoreChunkSha256s(fd.get(), *info, {one[0], one[0]});  // a 5-byte file has one chunk
  EXPECT_FALSE(CachedChunkSha256s(fd.get(), *info).has_value());
  StoreChunkSha256s(fd.get(), *info, one);
  auto cached = CachedChunkSha256s(fd.get(), *info);
  if (!cached) GTEST_SKIP() << "this file system has no user xattrs";
  EXPECT_EQ(*cached, one);
  FileInfo other = *info;
  other.inode++;
  EXPECT_FALSE(CachedChunkSha256s(fd.get(), other).has_value());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ferry
