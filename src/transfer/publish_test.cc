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

TEST(MoveTest, MovesADirectoryAndRefusesToReplaceUnlessAsked) {
  ScratchDir dir;
  std::filesystem::create_directories(dir.File("staged/tree"));
  std::filesystem::create_directories(dir.File("home"));
  WriteFile(dir.File("staged/tree/a"), "a");
  WriteFile(dir.File("staged/b"), "new b");
  WriteFile(dir.File("home/b"), "old");
  UniqueFd from(::open(dir.File("staged").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd to(::open(dir.File("home").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));

  Published tree = Move({from.get(), "tree", to.get(), "tree", false}, "move");
  ASSERT_TRUE(tree.ok()) << tree.status.ToString();
  EXPECT_TRUE(tree.moved);
  EXPECT_EQ(std::filesystem::file_size(dir.File("home/tree/a")), 1u);

  Published refused = Move({from.get(), "b", to.get(), "b", false}, "move");
  EXPECT_EQ(refused.error, EEXIST);
  EXPECT_FALSE(refused.moved);
  EXPECT_EQ(std::filesystem::file_size(dir.File("home/b")), 3u);

  Published replaced = Move({from.get(), "b", to.get(), "b", true}, "move");
  ASSERT_TRUE(replaced.ok()) << replaced.status.ToString();
  EXPECT_EQ(std::filesystem::file_size(dir.File("home/b")), 5u);
  EXPECT_FALSE(std::filesystem::exists(dir.File("staged/b")));
}

TEST(PublishFileTest, WritesTheWholeFileWithItsModeAndReplaces) {
  ScratchDir dir;
  const std::string path = dir.File("key.pem");
  ASSERT_TRUE(PublishFile(path, "first", 0600).ok());
  ASSERT_TRUE(PublishFile(path, "second", 0600).ok());
  EXPECT_EQ(std::filesystem::file_size(path), 6u);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) entries++;
  EXPECT_EQ(entries, 1u) << "no temporary file stays";
}

TEST(PendingFileTest, LeavesNothingUnlessCommittedAndCanRefuseToReplace) {
  ScratchDir dir;
  const std::string path = dir.File("job.key");
  {
    auto abandoned = PendingFile::Create(path, 0600);
    ASSERT_TRUE(abandoned.ok()) << abandoned.status().ToString();
    ASSERT_EQ(::write(abandoned->fd(), "x", 1), 1);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "an abandoned file is removed";

  ASSERT_TRUE(PublishFile(path, "first", 0600).ok());
  {
    auto second = PendingFile::Create(path, 0600);
    ASSERT_TRUE(second.ok());
    Published refused = second->Commit(false, "store");
    EXPECT_EQ(refused.error, EEXIST);
    EXPECT_FALSE(refused.moved);
  }
  EXPECT_EQ(std::filesystem::file_size(path), 5u);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) entries++;
  EXPECT_EQ(entries, 1u) << "the refused file is removed";
}

TEST(PublishFileTest, AMissingFolderIsAnErrorNamingThePath) {
  ScratchDir dir;
  const std::string path = dir.File("missing/key.pem");
  Status s = PublishFile(path, "x", 0600);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NE(s.message().find("cannot write '" + path + "'"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace ferry
