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

}  // namespace
}  // namespace ferry
