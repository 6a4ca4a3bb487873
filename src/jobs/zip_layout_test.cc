#include "jobs/zip_layout.h"

#include <gtest/gtest.h>

#include "jobs/zip_bomb_test_util.h"
#include "jobs/zip_test_util.h"

namespace ferry::jobs {
namespace {

using namespace ::ferry::jobs::testing;  // NOLINT: test helpers

class ZipLayoutTest : public ZipFixture {
 protected:
  Result<ZipLayout> Read(const std::string& bytes, uint64_t max_entries = 1000) {
    return ReadZipLayout(MemoryZipBytes(bytes), max_entries);
  }
};

TEST_F(ZipLayoutTest, ReadsWhereEachEntryLies) {
  CraftZip(base_ / "a.zip", {{"one.txt", TextBytes(5000, 1)},
                             {"dir/", "", Crafted::kDir},
                             {"dir/two.bin", RandomBytes(3000, 2), Crafted::kFile, ZIP_CM_STORE}});
  std::string bytes = ReadAll(base_ / "a.zip");
  auto layout = Read(bytes);
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  ASSERT_EQ(layout->entries.size(), 3u);
  EXPECT_EQ(layout->entries[0].name, "one.txt");
  EXPECT_EQ(layout->entries[0].uncompressed_size, 5000u);
  EXPECT_EQ(layout->entries[0].local_offset, 0u);
  EXPECT_EQ(layout->entries[2].name, "dir/two.bin");
  EXPECT_EQ(layout->entries[2].compressed_size, 3000u);
  EXPECT_LE(layout->entries[0].data_end, layout->entries[1].local_offset);
  EXPECT_LE(layout->entries[2].data_end, layout->central_directory_offset);
  // The same through a file descriptor.
  UniqueFd fd = OpenFd(base_ / "a.zip", O_RDONLY);
  auto from_fd = ReadZipLayout(FdZipBytes(fd.get(), bytes.size()), 1000);
  ASSERT_TRUE(from_fd.ok()) << from_fd.status().ToString();
  EXPECT_EQ(from_fd->entries.size(), 3u);
}

TEST_F(ZipLayoutTest, ReadsZip64ArchivesFromInfoZip) {
  WriteAll(base_ / "f.txt", TextBytes(10000, 3));
  ASSERT_EQ(Shell("cd " + Quote(base_) + " && printf 'streamed' | zip -q -fz z64.zip f.txt -"), 0);
  auto layout = Read(ReadAll(base_ / "z64.zip"));
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  ASSERT_EQ(layout->entries.size(), 2u);
  EXPECT_EQ(layout->entries[0].uncompressed_size, 10000u);
}

TEST_F(ZipLayoutTest, RefusesOverlappingEntries) {
  auto layout = Read(OverlappingZip(1000, 3));
  EXPECT_EQ(layout.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(layout.status().message().find("entries 'bomb-0' and 'bomb-1' share bytes"),
            std::string::npos)
      << layout.status().ToString();
  EXPECT_TRUE(Read(OverlappingZip(1000, 1)).ok());
}

TEST_F(ZipLayoutTest, RefusesWhatItCannotRead) {
  CraftZip(base_ / "a.zip", {{"one.txt", TextBytes(5000, 1)}, {"two.txt", TextBytes(500, 2)}});
  std::string good = ReadAll(base_ / "a.zip");
  struct Case {
    std::string bytes;
    const char* says;
  };
  std::string bad_offset = good;
  // The second central entry's local header offset, past the entries.
  size_t second = good.rfind("PK\1\2");
  for (int k = 0; k < 4; ++k) bad_offset[second + 42 + k] = '\xf0';
  for (const Case& c : {
           Case{"", "too short"},
           Case{"PK\5\6", "too short"},
           Case{std::string(100, 'x'), "no end of central directory record"},
           Case{good.substr(0, good.size() - 30), "no end of central directory record"},
           Case{good.substr(good.size() / 2), "central directory"},
           Case{bad_offset, "local header outside the entries"},
       }) {
    auto layout = Read(c.bytes);
    EXPECT_EQ(layout.status().code(), Code::kInvalidArgument) << c.says;
    EXPECT_NE(layout.status().message().find(c.says), std::string::npos)
        << layout.status().ToString();
  }
  auto many = Read(good, 1);
  EXPECT_EQ(many.status().code(), Code::kInvalidArgument);
  EXPECT_NE(many.status().message().find("2 entries; ferry unpacks at most 1"), std::string::npos)
      << many.status().ToString();
}

}  // namespace
}  // namespace ferry::jobs
