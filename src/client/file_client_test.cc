// The client against an in-process fake server that can misbehave: sizes
// that lie, listings without end, and .part files that are not ferry's.
#include "client/file_client.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client/partial_mark.h"
#include "client/progress.h"
#include "core/sha256.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FakeFiles final : public v1::Files::Service {
 public:
  // What Download serves.
  std::string content;
  int64_t announced_size = -2;  // -2: the content's true size
  int64_t mtime_ns = 1'700'000'000'000'000'000;
  // How many entries List sends, in batches of 100,000.
  int64_t list_entries = 0;
  // A byte Download flips on the way (-1: none); the hashes stay those of
  // `content`.
  int64_t corrupt_at = -1;
  std::atomic<bool> asked_chunk_hashes{false};

  std::vector<int64_t> offsets() {
    std::lock_guard lock(mu_);
    return offsets_;
  }

  grpc::Status Download(grpc::ServerContext*, const v1::DownloadRequest* req,
                        grpc::ServerWriter<v1::DownloadChunk>* writer) override {
    {
      std::lock_guard lock(mu_);
      offsets_.push_back(req->offset());
    }
    int64_t size = static_cast<int64_t>(content.size());
    if (req->offset() < 0 || req->offset() > size) {
      return {grpc::StatusCode::OUT_OF_RANGE, "range starts past the end"};
    }
    // Asked for chunk hashes, it answers as ferry's server does: messages on
    // the 1 MiB grid, each whole chunk with its SHA-256.
    asked_chunk_hashes = req->chunk_sha256();
    constexpr int64_t kGrid = 1 << 20;
    v1::DownloadChunk chunk;
    chunk.set_size(announced_size == -2 ? size : announced_size);
    chunk.set_mtime_ns(mtime_ns);
    for (int64_t pos = req->offset();;) {
      int64_t n = req->chunk_sha256() ? std::min(size - pos, kGrid - pos % kGrid)
                                      : std::min<int64_t>(size - pos, 256 * 1024);
      std::string data = content.substr(static_cast<size_t>(pos), static_cast<size_t>(n));
      chunk.clear_chunk_sha256();
      if (req->chunk_sha256() && pos % kGrid == 0 && (n == kGrid || pos + n == size)) {
        chunk.set_chunk_sha256(Sha256::HexOf(data));
      }
      if (corrupt_at >= pos && corrupt_at < pos + n)
        data[static_cast<size_t>(corrupt_at - pos)] ^= 1;
      chunk.set_data(std::move(data));
      pos += n;
      if (pos == size) chunk.set_sha256(Sha256::HexOf(content));
      if (!writer->Write(chunk)) return grpc::Status::OK;  // the client went away
      if (pos == size) return grpc::Status::OK;
      chunk.clear_size();
      chunk.clear_mtime_ns();
    }
  }

  grpc::Status List(grpc::ServerContext*, const v1::ListRequest*,
                    grpc::ServerWriter<v1::ListResponse>* writer) override {
    for (int64_t sent = 0; sent < list_entries;) {
      v1::ListResponse batch;
      for (int i = 0; i < 100'000 && sent < list_entries; ++i, ++sent) {
        batch.add_entries()->set_name("f");
      }
      if (!writer->Write(batch)) break;
    }
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  std::vector<int64_t> offsets_;
};

class FileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-client-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    local_ = (dir_ / "x").string();
    part_ = local_ + ".part";
    xattrs_ = ::setxattr(dir_.c_str(), "user.ferry.probe", "1", 1, 0) == 0 || errno != ENOTSUP;

    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&files_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ && port > 0);
    address_ = "127.0.0.1:" + std::to_string(port);
    conn_ = Connection::OverChannel(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()), address_);
  }
  void TearDown() override {
    conn_.reset();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 5s);
    fs::remove_all(dir_);
  }

  static std::string Read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::string Pattern(size_t size, char seed) {
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i * 7));
    return s;
  }
  // A .part as an interrupted `get x` leaves it.
  void WritePartial(const std::string& content, const PartialMark& mark) {
    std::ofstream(part_) << content;
    std::string value = EncodeMark(mark);
    ASSERT_EQ(::setxattr(part_.c_str(), kPartialMarkAttr, value.data(), value.size(), 0), 0);
  }
  PartialMark MarkFor(const std::string& content) const {
    return {address_, "x", static_cast<int64_t>(content.size()), files_.mtime_ns};
  }

  FakeFiles files_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Connection> conn_;
  std::string address_;
  fs::path dir_;
  std::string local_, part_;
  bool xattrs_ = true;
};

TEST_F(FileClientTest, DownloadsAndLeavesNoMarkOnTheFile) {
  files_.content = Pattern(3 << 20, 1);
  ASSERT_TRUE(DownloadFile(*conn_, "x", local_, {}).ok());
  EXPECT_EQ(Read(local_), files_.content);
  EXPECT_FALSE(fs::exists(part_));
  char buf[16];
  EXPECT_LT(::getxattr(local_.c_str(), kPartialMarkAttr, buf, sizeof buf), 0);
}

TEST_F(FileClientTest, VerifiesEachChunkWhenAsked) {
  files_.content = Pattern((3 << 20) + 5, 3);
  TransferOptions options;
  options.verify_chunks = true;
  Status s = DownloadFile(*conn_, "x", local_, options);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(files_.asked_chunk_hashes);
  EXPECT_EQ(Read(local_), files_.content);
}

// A damaged chunk is caught when it arrives, and none of it is written; the
// chunks before it stay in the .part for a later run.
TEST_F(FileClientTest, ABadChunkEndsTheDownloadBeforeItIsWritten) {
  files_.content = Pattern(4 << 20, 4);
  files_.corrupt_at = (2 << 20) + 77;
  TransferOptions options;
  options.verify_chunks = true;
  Status s = DownloadFile(*conn_, "x", local_, options);
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find("chunk at byte 2097152"), std::string::npos) << s.ToString();
  EXPECT_FALSE(fs::exists(local_));
  if (xattrs_) {
    ASSERT_TRUE(fs::exists(part_));
    EXPECT_EQ(fs::file_size(part_), uintmax_t{2} << 20);
    EXPECT_EQ(Read(part_), files_.content.substr(0, 2 << 20));
  }
}

// Without chunk hashes the same damage is caught only by the whole file's
// hash, once every byte arrived.
TEST_F(FileClientTest, WithoutChunkHashesDamageIsCaughtAtTheEnd) {
  files_.content = Pattern(4 << 20, 4);
  files_.corrupt_at = (2 << 20) + 77;
  Status s = DownloadFile(*conn_, "x", local_, {});
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find("SHA-256 mismatch"), std::string::npos) << s.ToString();
  EXPECT_FALSE(files_.asked_chunk_hashes);
  EXPECT_FALSE(fs::exists(local_));
}

TEST_F(FileClientTest, StopsAServerThatSendsMoreThanItAnnounced) {
  files_.content = Pattern(4 << 20, 2);
  files_.announced_size = 1 << 20;
  Status s = DownloadFile(*conn_, "x", local_, {});
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find("server sent more than the file's size"), std::string::npos);
  EXPECT_FALSE(fs::exists(local_));
  if (fs::exists(part_)) {
    EXPECT_LE(fs::file_size(part_), uintmax_t{1} << 20);  // nothing past the announced size
  }
}

TEST_F(FileClientTest, RejectsANegativeSize) {
  files_.content = "abc";
  files_.announced_size = -5;
  Status s = DownloadFile(*conn_, "x", local_, {});
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_FALSE(fs::exists(local_));
  EXPECT_FALSE(fs::exists(part_));
}

TEST_F(FileClientTest, ResumesItsOwnPartial) {
  if (!xattrs_) GTEST_SKIP() << "no user xattrs";
  files_.content = Pattern(3 << 20, 3);
  WritePartial(files_.content.substr(0, 1 << 20), MarkFor(files_.content));
  std::vector<std::string> notes;
  TransferOptions o;
  o.notify = [&](const std::string& m) { notes.push_back(m); };
  ASSERT_TRUE(DownloadFile(*conn_, "x", local_, o).ok());
  EXPECT_EQ(files_.offsets(), std::vector<int64_t>{1 << 20});
  EXPECT_EQ(Read(local_), files_.content);
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes[0].find("resuming download"), std::string::npos);
}

TEST_F(FileClientTest, StartsOverWhenTheRemoteFileChanged) {
  if (!xattrs_) GTEST_SKIP() << "no user xattrs";
  files_.content = Pattern(3 << 20, 4);
  PartialMark old = MarkFor(files_.content);
  old.mtime_ns -= 1'000'000'000;  // an older version of the same size
  WritePartial(Pattern(1 << 20, 5), old);
  ASSERT_TRUE(DownloadFile(*conn_, "x", local_, {}).ok());
  EXPECT_EQ(files_.offsets(), (std::vector<int64_t>{1 << 20, 0}));
  EXPECT_EQ(Read(local_), files_.content);
}

TEST_F(FileClientTest, LeavesAPartFileFerryDidNotMakeAlone) {
  files_.content = "remote";
  std::ofstream(part_) << "a browser's download";
  Status s = DownloadFile(*conn_, "x", local_, {});
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("not made by ferry"), std::string::npos);
  EXPECT_EQ(Read(part_), "a browser's download");
  EXPECT_TRUE(files_.offsets().empty());  // refused before asking the server

  TransferOptions force;
  force.overwrite = true;
  ASSERT_TRUE(DownloadFile(*conn_, "x", local_, force).ok());
  EXPECT_EQ(Read(local_), "remote");
  EXPECT_EQ(files_.offsets(), std::vector<int64_t>{0});
}

TEST_F(FileClientTest, ATreeCannotAppendToAFileItJustDownloaded) {
  // A server lists "x.part" before "x": the first download must not become
  // the second one's partial.
  if (!xattrs_) GTEST_SKIP() << "no user xattrs";
  files_.content = "first";
  ASSERT_TRUE(DownloadFile(*conn_, "x.part", part_, {}).ok());
  Status s = DownloadFile(*conn_, "x", local_, {});
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(Read(part_), "first");
}

TEST_F(FileClientTest, CapsTheEntriesOfAListing) {
  files_.list_entries = 1'000'000;
  auto all = ListRemote(*conn_, "d");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 1'000'000u);
  files_.list_entries = 1'000'001;
  auto over = ListRemote(*conn_, "d");
  EXPECT_EQ(over.status().code(), Code::kResourceExhausted);
}

TEST(DeadlineTest, AllowsForTheRateLimit) {
  const int64_t mib50 = 50 << 20;
  // 50 MiB at --limit-rate 100K takes 512 s; the deadline allows twice that.
  EXPECT_GE(TransferDeadline(mib50, 100 * 1024), std::chrono::seconds(120 + 1024));
  EXPECT_EQ(TransferDeadline(mib50, 0), TransferDeadline(mib50, 1 << 30));  // 64 KiB/s floor
  EXPECT_GE(TransferDeadline(mib50, 0), std::chrono::seconds(120 + 800));
  EXPECT_GE(TransferDeadline(0, 0), std::chrono::seconds(120));
  // No overflow however extreme the numbers.
  auto longest = TransferDeadline(INT64_MAX, 1);
  EXPECT_GT(longest, std::chrono::hours(24 * 365));
  EXPECT_LT(longest, std::chrono::hours(24 * 366 * 11));
  EXPECT_GE(DownloadDeadline(0), std::chrono::hours(7 * 24));
  EXPECT_GE(DownloadDeadline(0), std::chrono::seconds((int64_t{1} << 40) / (64 * 1024)));
  EXPECT_GE(DownloadDeadline(10 * 1024), DownloadDeadline(0));
}

TEST(ProgressTest, SurvivesWhateverTheServerSays) {
  const int64_t cases[][2] = {{5, 10},        {20, 10}, {10, 0},        {10, -7},
                              {INT64_MAX, 1}, {0, 0},   {1, INT64_MAX}, {INT64_MAX, INT64_MAX}};
  for (const auto& c : cases) {
    Progress p("label\x1b[2J", c[1], true);
    ::testing::internal::CaptureStdout();
    p.Update(0);
    std::this_thread::sleep_for(110ms);  // past the redraw interval: draws with a rate and ETA
    p.Update(c[0]);
    p.Finish();
    std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(out.find('\x1b'), std::string::npos);
  }
}

}  // namespace
}  // namespace ferry
