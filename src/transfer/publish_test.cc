#include "transfer/publish.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "transfer/file_io.h"
#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

using testing::ScratchDir;
using testing::WriteFile;

TEST(PublishTest, RenamesIntoPlace) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f.part"), "data");
  UniqueFd d(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Published p = Publish(fd.get(), {d.get(), "f.part", d.get(), "f", false}, "publish");
  ASSERT_TRUE(p.ok()) << p.status.ToString();
  EXPECT_TRUE(p.moved);
  EXPECT_FALSE(std::filesystem::exists(dir.File("f.part")));
  EXPECT_EQ(std::filesystem::file_size(dir.File("f")), 4u);
}

TEST(PublishTest, WithoutReplaceAnExistingNameIsAlreadyExistsAndNothingMoves) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("f.part"), "new");
  UniqueFd old = WriteFile(dir.File("f"), "old file");
  UniqueFd d(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Published p = Publish(fd.get(), {d.get(), "f.part", d.get(), "f", false}, "publish");
  EXPECT_EQ(p.status.code(), Code::kAlreadyExists);
  EXPECT_EQ(p.error, EEXIST);
  EXPECT_FALSE(p.moved);
  EXPECT_TRUE(std::filesystem::exists(dir.File("f.part")));
  EXPECT_EQ(std::filesystem::file_size(dir.File("f")), 8u);

  Published replaced = Publish(fd.get(), {d.get(), "f.part", d.get(), "f", true}, "publish");
  ASSERT_TRUE(replaced.ok()) << replaced.status.ToString();
  EXPECT_EQ(std::filesystem::file_size(dir.File("f")), 3u);
}

TEST(PublishTest, MovesAcrossDirectories) {
  ScratchDir dir;
  std::filesystem::create_directory(dir.File("to"));
  UniqueFd fd = WriteFile(dir.File("f.part"), "x");
  UniqueFd from(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd to(::open(dir.File("to").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Published p = Publish(fd.get(), {from.get(), "f.part", to.get(), "f", false}, "publish");
  ASSERT_TRUE(p.ok()) << p.status.ToString();
  EXPECT_TRUE(std::filesystem::exists(dir.File("to/f")));
}

TEST(PublishTest, AMissingSourceFailsUnmoved) {
  ScratchDir dir;
  UniqueFd fd = WriteFile(dir.File("other"), "x");
  UniqueFd d(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Published p = Publish(fd.get(), {d.get(), "absent", d.get(), "f", false}, "publish");
  EXPECT_EQ(p.status.code(), Code::kNotFound);
  EXPECT_FALSE(p.moved);
  EXPECT_EQ(p.error, ENOENT);
}

}  // namespace
}  // namespace ferry
