// The download manager's refusals that need no network: bad input, and a
// directory that cannot be reached. Downloads that run are tested end to
// end (tests/e2e/peer_ui_e2e_test.cc) against a real directory and peers.
#include "peer/download_manager.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace ferry {
namespace {

class DownloadManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / "download-manager-test";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "downloads");
    auto history = DownloadHistory::Open((dir_ / "history.db").string());
    ASSERT_TRUE(history.ok());
    history_ = std::move(history).value();
  }
  std::filesystem::path dir_;
  std::unique_ptr<DownloadHistory> history_;
  int connects_ = 0;
  SharedDirectoryClient session_{[this]() -> Result<std::unique_ptr<dirclient::DirectoryClient>> {
    ++connects_;
    return Status::Unavailable("cannot reach the directory at https://127.0.0.1:1: refused");
  }};
};

TEST_F(DownloadManagerTest, RefusesBadInputBeforeAskingTheDirectory) {
  DownloadManagerOptions options;
  options.downloads_dir = (dir_ / "downloads").string();
  DownloadManager manager(&session_, history_.get(), options, {});
  EXPECT_EQ(manager.Start("abc", "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(manager.Start(std::string(64, 'g'), "").status().code(), Code::kInvalidArgument);
  for (const char* name : {"a/b", "..", ".", ".ferry-x.part"}) {
    EXPECT_EQ(manager.Start(std::string(64, 'a'), name).status().code(), Code::kInvalidArgument)
        << name;
  }
  EXPECT_EQ(connects_, 0);
  EXPECT_EQ(manager.Pause("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(manager.Resume("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(manager.Cancel("nope").status().code(), Code::kNotFound);
  EXPECT_TRUE(manager.List().empty());
}

TEST_F(DownloadManagerTest, ADirectoryThatCannotBeReachedIsUnavailable) {
  DownloadManagerOptions options;
  options.downloads_dir = (dir_ / "downloads").string();
  DownloadManager manager(&session_, history_.get(), options, {});
  auto started = manager.Start(std::string(64, 'A'), "x.bin");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), Code::kUnavailable);
  EXPECT_NE(started.status().message().find("cannot reach the directory"), std::string::npos);
  EXPECT_EQ(connects_, 1);
  EXPECT_TRUE(manager.List().empty());
  auto totals = manager.Totals();
  EXPECT_EQ(totals.by_state[DownloadState::kRunning], 0);
}

}  // namespace
}  // namespace ferry
