#include "peer/done_record.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ferry {
namespace {

namespace fs = std::filesystem;

class DoneRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry-done-record-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / ".ferry-a.part.done").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
  const std::string sha_ = std::string(64, 'a');
};

TEST_F(DoneRecordTest, SavedChunksLoadBack) {
  std::vector<bool> done = {true, false, true};
  ASSERT_TRUE(SaveDoneRecord(path_, sha_, done).ok());
  auto loaded = LoadDoneRecord(path_, sha_, 3);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, done);
}

TEST_F(DoneRecordTest, NoRecordOrOneForOtherContentMeansAFreshStart) {
  auto none = LoadDoneRecord(path_, sha_, 2);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::vector<bool>(2, false));
  ASSERT_TRUE(SaveDoneRecord(path_, sha_, {true, true}).ok());
  EXPECT_EQ(*LoadDoneRecord(path_, std::string(64, 'b'), 2), std::vector<bool>(2, false));
  EXPECT_EQ(*LoadDoneRecord(path_, sha_, 3), std::vector<bool>(3, false));
  std::ofstream(path_) << "ferry-done 1 " << sha_ << " 2\n1x";
  EXPECT_EQ(*LoadDoneRecord(path_, sha_, 2), std::vector<bool>(2, false));
}

TEST(DoneRecordNameTest, IsThePartialFilesNameWithDone) {
  EXPECT_EQ(DoneRecordName(".ferry-film.mkv.part"), ".ferry-film.mkv.part.done");
}

}  // namespace
}  // namespace ferry
