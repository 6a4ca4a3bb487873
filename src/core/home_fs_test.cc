#include "core/home_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ferry {
namespace {

namespace fs = std::filesystem;

class HomeFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ferry-homefs-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "home");
    fs::create_directories(base_ / "outside");
    std::ofstream(base_ / "outside" / "secret.txt") << "top secret";
    auto h = HomeFs::Open((base_ / "home").string(), false);
    ASSERT_TRUE(h.ok());
    home_.emplace(std::move(h).value());
  }
  void TearDown() override { fs::remove_all(base_); }

  RelPath P(const char* s) { return *RelPath::Parse(s); }
  void Write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

  fs::path base_;
  std::optional<HomeFs> home_;
};

TEST_F(HomeFsTest, MakeListStatRemove) {
  ASSERT_TRUE(home_->MakeDirectory(P("a/b/c"), true).ok());
  EXPECT_TRUE(home_->MakeDirectory(P("a/b/c"), true).ok());
  EXPECT_EQ(home_->MakeDirectory(P("a"), false).code(), Code::kAlreadyExists);
  ASSERT_TRUE(home_->Touch(P("a/z.txt")).ok());
  EXPECT_EQ(home_->Touch(P("a/z.txt")).code(), Code::kAlreadyExists);
  auto list = home_->List(P("a"));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "b");
  EXPECT_EQ((*list)[0].type, FileType::kDirectory);
  EXPECT_EQ((*list)[1].name, "z.txt");
  EXPECT_EQ(home_->Remove(P("a"), false).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(home_->Remove(P("a"), true).ok());
  EXPECT_EQ(home_->Stat(P("a")).status().code(), Code::kNotFound);
  EXPECT_EQ(home_->Remove(RelPath(), true).code(), Code::kPermissionDenied);
}

TEST_F(HomeFsTest, RenameDoesNotOverwriteUnlessAsked) {
  Write(base_ / "home" / "x", "x");
  Write(base_ / "home" / "y", "y");
  EXPECT_EQ(home_->Rename(P("x"), P("y"), false).code(), Code::kAlreadyExists);
  EXPECT_TRUE(home_->Rename(P("x"), P("y"), true).ok());
  std::ifstream in(base_ / "home" / "y");
  std::string content;
  in >> content;
  EXPECT_EQ(content, "x");
  ASSERT_TRUE(home_->MakeDirectory(P("d"), false).ok());
  EXPECT_EQ(home_->Rename(P("d"), P("d/inner"), false).code(), Code::kInvalidArgument);
}

TEST_F(HomeFsTest, NeverFollowsSymlinksOut) {
  fs::create_symlink(base_ / "outside", base_ / "home" / "escape");
  fs::create_symlink(base_ / "outside" / "secret.txt", base_ / "home" / "link.txt");
  fs::create_symlink("../outside/secret.txt", base_ / "home" / "rel.txt");
  for (const char* p : {"escape/secret.txt", "link.txt", "rel.txt"}) {
    auto f = home_->OpenForRead(P(p));
    EXPECT_FALSE(f.ok()) << p;
    EXPECT_EQ(f.status().code(), Code::kPermissionDenied) << p;
  }
  EXPECT_FALSE(home_->List(P("escape")).ok());
  EXPECT_FALSE(home_->Touch(P("escape/new")).ok());
  EXPECT_FALSE(home_->MakeDirectory(P("escape/newdir"), true).ok());
  EXPECT_FALSE(fs::exists(base_ / "outside" / "new"));
  EXPECT_FALSE(fs::exists(base_ / "outside" / "newdir"));
  // Whether a target exists outside is not revealed: same answer either way.
  fs::create_symlink(base_ / "outside" / "missing", base_ / "home" / "dangling");
  EXPECT_EQ(home_->OpenForRead(P("dangling")).status().code(),
            home_->OpenForRead(P("link.txt")).status().code());
  // Removing a link removes the link only.
  EXPECT_TRUE(home_->Remove(P("escape"), true).ok());
  EXPECT_TRUE(fs::exists(base_ / "outside" / "secret.txt"));
}

TEST_F(HomeFsTest, OpenForReadRefusesDirectoriesAndFifos) {
  ASSERT_TRUE(home_->MakeDirectory(P("dir"), false).ok());
  EXPECT_EQ(home_->OpenForRead(P("dir")).status().code(), Code::kFailedPrecondition);
  ASSERT_EQ(::mkfifo((base_ / "home" / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(home_->OpenForRead(P("fifo")).status().code(), Code::kFailedPrecondition);
}

TEST_F(HomeFsTest, DiskUsageCountsFilesAndLinksButFollowsNothing) {
  fs::create_directories(base_ / "home" / "a" / "b");
  Write(base_ / "home" / "one.txt", "12345");
  Write(base_ / "home" / "a" / "b" / "two.txt", "1234567890");
  fs::create_symlink("../../outside", base_ / "home" / "a" / "out");  // 13 bytes of link text
  auto total = home_->DiskUsage(RelPath());
  ASSERT_TRUE(total.ok()) << total.status().ToString();
  EXPECT_EQ(*total, 5 + 10 + 13);
  EXPECT_EQ(*home_->DiskUsage(P("a/b")), 10);
  EXPECT_EQ(*home_->DiskUsage(P("one.txt")), 5);
}

TEST_F(HomeFsTest, RenameRefusesToMoveALinkThatWouldPointOutside) {
  fs::create_directories(base_ / "home" / "x" / "y");
  Write(base_ / "home" / "x" / "file", "data");
  // Inside the home where it is: x/y/up -> ../file is x/file.
  fs::create_symlink("../file", base_ / "home" / "x" / "y" / "up");
  fs::create_symlink("/etc/passwd", base_ / "home" / "x" / "abs");
  fs::create_symlink("../../../outside/secret.txt", base_ / "home" / "x" / "y" / "deep");

  // From the root, "../file" climbs above the home.
  auto moved = home_->Rename(P("x/y/up"), P("up"), false);
  EXPECT_EQ(moved.code(), Code::kPermissionDenied) << moved.ToString();
  EXPECT_NE(moved.message().find("outside your home"), std::string::npos);
  EXPECT_TRUE(fs::is_symlink(base_ / "home" / "x" / "y" / "up"));
  EXPECT_EQ(home_->Rename(P("x/abs"), P("x/y/abs"), false).code(), Code::kPermissionDenied);
  // Deeper or level is fine for a link that stays inside.
  EXPECT_TRUE(home_->Rename(P("x/y/up"), P("x/y/up2"), false).ok());
  fs::create_directories(base_ / "home" / "z");
  // A directory moved up carries links that would now escape.
  EXPECT_EQ(home_->Rename(P("x/y"), P("y"), false).code(), Code::kPermissionDenied);
  fs::remove(base_ / "home" / "x" / "y" / "deep");
  EXPECT_TRUE(home_->Rename(P("x/y"), P("z/y"), false).ok());  // same depth: x/file -> z/file
  EXPECT_TRUE(fs::is_symlink(base_ / "home" / "z" / "y" / "up2"));
}

}  // namespace
}  // namespace ferry
