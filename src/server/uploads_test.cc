#include "server/uploads.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/home_fs.h"
#include "transfer/publish.h"

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

// A batch's whole files count through its reservation, taken before they
// are written, so batches checked at once each see the others' bytes.
TEST_F(UploadStoreTest, AReservationCountsAmongPartialsUntilItEnds) {
  UploadStore store(dir_, std::chrono::hours(1), SpaceReserve{0, 1.0});
  {
    auto reserved = store.Reserve("alice", 5000);
    EXPECT_EQ(store.PartialBytes("alice"), 5000);
    EXPECT_EQ(store.PartialBytes("bob"), 0);
    auto more = store.Reserve("alice", 300);
    EXPECT_EQ(store.PartialBytes("alice"), 5300);
    auto whole = store.OpenWholeFiles("alice");
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    auto file = whole->Create();
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ASSERT_EQ(::pwrite(file->second.get(), "0123456", 7, 0), 7);
    EXPECT_EQ(store.PartialBytes("alice"), 5300) << "not counted twice";
    // It carries the client's mtime, which may be years old.
    timespec old[2] = {{0, UTIME_OMIT}, {1'000'000'000, 0}};
    ASSERT_EQ(::futimens(file->second.get(), old), 0);
    EXPECT_EQ(store.RemoveStale(), 0) << "a batch's file is spared while its set lives";
  }
  EXPECT_EQ(store.PartialBytes("alice"), 0) << "and the whole file is gone with its batch";
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ + "/alice"),
                          std::filesystem::directory_iterator()),
            0);
}

// The destination directory `name` under the test's directory, as the file
// service hands it to Commit.
DirEntry Destination(const std::string& dir, const std::string& leaf) {
  std::filesystem::create_directories(dir);
  return {UniqueFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), leaf};
}

TEST_F(UploadStoreTest, KeepsPartialsOutsideTheHomeUnderTheUser) {
  UploadStore store(dir_ + "/uploads", std::chrono::hours(1), SpaceReserve{0, 1.0});
  std::filesystem::create_directory(dir_ + "/uploads");
  auto begun = store.Begin(Upload("docs/a.txt", 5), "k");
  ASSERT_TRUE(begun.ok()) << begun.status().ToString();
  EXPECT_EQ(begun->first.size(), 40u);
  EXPECT_EQ(begun->second, 0);
  auto writer = store.Open("alice", begun->first);
  ASSERT_TRUE(writer.ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(dir_ + "/uploads/alice/" + begun->first + ".part"));
}

TEST_F(UploadStoreTest, TheSameUploadBegunAgainResumesFromWhatIsHeld) {
  UploadStore store(dir_, std::chrono::hours(1), SpaceReserve{0, 1.0});
  auto begun = store.Begin(Upload("a", 10), "key");
  ASSERT_TRUE(begun.ok());
  {
    auto writer = store.Open("alice", begun->first);
    ASSERT_TRUE(writer.ok());
    ASSERT_EQ(::pwrite(writer->fd(), "0123", 4, 0), 4);
  }
  auto again = store.Begin(Upload("a", 10), "key");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->first, begun->first);
  EXPECT_EQ(again->second, 4);
  // Another resume key (another source file) is another upload.
  auto other = store.Begin(Upload("a", 10), "other key");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->first, begun->first);
  EXPECT_EQ(other->second, 0);
}

TEST_F(UploadStoreTest, OneWriterAtATimeAndOnlyForItsUser) {
  UploadStore store(dir_, std::chrono::hours(1), SpaceReserve{0, 1.0});
  auto begun = store.Begin(Upload("a", 10), "k");
  ASSERT_TRUE(begun.ok());
  EXPECT_EQ(store.Open("bob", begun->first).status().code(), Code::kNotFound);
  EXPECT_EQ(store.Open("alice", "no-such-id").status().code(), Code::kNotFound);
  auto writer = store.Open("alice", begun->first);
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ(store.Open("alice", begun->first).status().code(), Code::kAborted);
}

TEST_F(UploadStoreTest, CommitMovesThePartialIntoPlaceAndForgetsTheUpload) {
  UploadStore store(dir_ + "/uploads", std::chrono::hours(1), SpaceReserve{0, 1.0});
  std::filesystem::create_directory(dir_ + "/uploads");
  auto begun = store.Begin(Upload("a.txt", 5), "k");
  ASSERT_TRUE(begun.ok());
  std::string part = dir_ + "/uploads/alice/" + begun->first + ".part";
  {
    auto writer = store.Open("alice", begun->first);
    ASSERT_TRUE(writer.ok());
    ASSERT_EQ(::pwrite(writer->fd(), "hello", 5, 0), 5);
    Published published = writer->Commit(Destination(dir_ + "/home", "a.txt"));
    ASSERT_TRUE(published.ok()) << published.status.ToString();
    EXPECT_TRUE(published.moved);
  }
  EXPECT_FALSE(std::filesystem::exists(part));
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/home/a.txt"), 5u);
  // Forgotten: the id no longer opens.
  EXPECT_EQ(store.Open("alice", begun->first).status().code(), Code::kNotFound);
}

TEST_F(UploadStoreTest, CommitWithoutOverwriteKeepsThePartialWhenTheNameIsTaken) {
  UploadStore store(dir_ + "/uploads", std::chrono::hours(1), SpaceReserve{0, 1.0});
  std::filesystem::create_directory(dir_ + "/uploads");
  std::filesystem::create_directories(dir_ + "/home");
  std::ofstream(dir_ + "/home/a.txt") << "someone else's";
  auto begun = store.Begin(Upload("a.txt", 3), "k");
  ASSERT_TRUE(begun.ok());
  {
    auto writer = store.Open("alice", begun->first);
    ASSERT_TRUE(writer.ok());
    ASSERT_EQ(::pwrite(writer->fd(), "new", 3, 0), 3);
    Published published = writer->Commit(Destination(dir_ + "/home", "a.txt"));
    EXPECT_EQ(published.status.code(), Code::kAlreadyExists);
    EXPECT_FALSE(published.moved);
  }
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/home/a.txt"), 14u);
  // Still there for a retry: the same upload resumes with all its bytes.
  auto again = store.Begin(Upload("a.txt", 3), "k");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->second, 3);
}

TEST_F(UploadStoreTest, CommitWithOverwriteReplaces) {
  UploadStore store(dir_ + "/uploads", std::chrono::hours(1), SpaceReserve{0, 1.0});
  std::filesystem::create_directory(dir_ + "/uploads");
  std::filesystem::create_directories(dir_ + "/home");
  std::ofstream(dir_ + "/home/a.txt") << "old contents";
  PendingUpload upload = Upload("a.txt", 3);
  upload.overwrite = true;
  auto begun = store.Begin(upload, "k");
  ASSERT_TRUE(begun.ok());
  auto writer = store.Open("alice", begun->first);
  ASSERT_TRUE(writer.ok());
  ASSERT_EQ(::pwrite(writer->fd(), "new", 3, 0), 3);
  ASSERT_TRUE(writer->Commit(Destination(dir_ + "/home", "a.txt")).ok());
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/home/a.txt"), 3u);
}

TEST_F(UploadStoreTest, DiscardAbandonsTheBytesHeld) {
  UploadStore store(dir_, std::chrono::hours(1), SpaceReserve{0, 1.0});
  auto begun = store.Begin(Upload("a", 10), "k");
  ASSERT_TRUE(begun.ok());
  {
    auto writer = store.Open("alice", begun->first);
    ASSERT_TRUE(writer.ok());
    ASSERT_EQ(::pwrite(writer->fd(), "0123", 4, 0), 4);
    writer->Discard();
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/alice/" + begun->first + ".part"));
  auto again = store.Begin(Upload("a", 10), "k");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->second, 0);
}

TEST_F(UploadStoreTest, RemoveStaleSparesPartialsBeingWritten) {
  UploadStore store(dir_, std::chrono::seconds(0), SpaceReserve{0, 1.0});
  auto idle = store.Begin(Upload("idle", 10), "k");
  auto busy = store.Begin(Upload("busy", 10), "k");
  ASSERT_TRUE(idle.ok() && busy.ok());
  { ASSERT_TRUE(store.Open("alice", idle->first).ok()); }  // creates the idle partial
  auto writer = store.Open("alice", busy->first);
  ASSERT_TRUE(writer.ok());
  // Older than the (zero) retention once the clock moves past their mtime.
  timespec old[2] = {{1, 0}, {1, 0}};
  for (const auto& id : {idle->first, busy->first}) {
    ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ + "/alice/" + id + ".part").c_str(), old, 0), 0);
  }
  EXPECT_EQ(store.RemoveStale(), 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/alice/" + idle->first + ".part"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/alice/" + busy->first + ".part"));
  EXPECT_EQ(store.Open("alice", idle->first).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace ferry
