#include "server/uploads.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ferry {
namespace {

class UploadStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-uploads-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  PendingUpload Upload(const std::string& name, int64_t size) {
    return {"alice", *RelPath::Parse(name), size, false, {}};
  }
  std::string dir_;
};

TEST_F(UploadStoreTest, SpaceReserveParses) {
  auto pct = SpaceReserve::Parse("5%");
  ASSERT_TRUE(pct.ok());
  EXPECT_EQ(pct->For(1000), 50);
  auto bytes = SpaceReserve::Parse("2G");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->For(int64_t{100} << 30), int64_t{2} << 30);
  EXPECT_EQ(SpaceReserve::Parse("0")->For(1000), 0);
  EXPECT_FALSE(SpaceReserve::Parse("101%").ok());
  EXPECT_FALSE(SpaceReserve::Parse("lots").ok());
  // The default: 5% of a small disk, 1 GiB of a large one.
  EXPECT_EQ(SpaceReserve{}.For(int64_t{1} << 30), (int64_t{1} << 30) / 20);
  EXPECT_EQ(SpaceReserve{}.For(int64_t{1} << 40), int64_t{1} << 30);
}

TEST_F(UploadStoreTest, RefusesAnUploadThatWouldEatTheReserve) {
  FsSpace space{1000, 300};
  UploadStore store(dir_, std::chrono::hours(1), SpaceReserve{100, 1.0},
                    [&](const std::string&) -> Result<FsSpace> { return space; });
  EXPECT_TRUE(store.Begin(Upload("fits", 200), "k").ok());
  auto refused = store.Begin(Upload("big", 201), "k");
  EXPECT_EQ(refused.status().code(), Code::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("kept free"), std::string::npos)
      << refused.status().message();
}

TEST_F(UploadStoreTest, CountsPartialBytesPerUser) {
  UploadStore store(dir_, std::chrono::hours(1), SpaceReserve{0, 1.0});
  EXPECT_EQ(store.PartialBytes("alice"), 0);
  auto begun = store.Begin(Upload("a", 10), "k");
  ASSERT_TRUE(begun.ok());
  {
    auto writer = store.Open("alice", begun->first);
    ASSERT_TRUE(writer.ok());
    ASSERT_EQ(::pwrite(writer->fd(), "0123456", 7, 0), 7);
  }
  EXPECT_EQ(store.PartialBytes("alice"), 7);
  EXPECT_EQ(store.PartialBytes("bob"), 0);
  // While a stream writes it, an upload counts at its full size.
  auto writer = store.Open("alice", begun->first);
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ(store.PartialBytes("alice"), 10);
}

}  // namespace
}  // namespace ferry
