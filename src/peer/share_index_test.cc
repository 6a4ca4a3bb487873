#include "peer/share_index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "peer/own_files.h"
#include "transfer/chunk_tree.h"
#include "transfer/transfer_limits.h"
#include "transfer/transfer_test_util.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

// Bytes that differ from file to file (`seed`) and from chunk to chunk.
std::string Bytes(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 4096 + seed * 31) & 0xff);
  return s;
}

// Writes `data` at `path` (parents made) with an mtime an hour old, so the
// index does not take it for a file written in the same tick as its hashing.
void Put(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_TRUE(testing::WriteFile(path, data).valid()) << path;
  struct timespec times[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

// What the index must hold for `data`, computed without the index.
void ExpectHashesOf(const SharedFile& f, const std::string& data) {
  EXPECT_EQ(f.size, static_cast<int64_t>(data.size())) << f.path;
  EXPECT_EQ(f.sha256, Sha256::HexOf(data)) << f.path;
  std::vector<std::string> chunks;
  for (size_t off = 0; off < data.size(); off += kChunkBytes) {
    chunks.push_back(Sha256::HexOf(data.substr(off, kChunkBytes)));
  }
  EXPECT_EQ(f.chunk_sha256s, chunks) << f.path;
  EXPECT_EQ(f.chunk_root, *ChunkTreeRootHex(chunks)) << f.path;
}

class ShareIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    share_ = dir_.File("share");
    index_path_ = dir_.File("index.sqlite");
    fs::create_directories(share_);
    files_ = {
        {"empty", Bytes(0, 0)},
        {"one", Bytes(1, 1)},
        {"a/mib", Bytes(kChunkBytes, 2)},
        {"a/b/mib-plus-one", Bytes(kChunkBytes + 1, 3)},
        {"a/b/c/three-and-a-bit", Bytes(3 * kChunkBytes + 123, 4)},
    };
    for (const auto& [path, data] : files_) Put(Path(path), data);
  }

  std::string Path(const std::string& rel) const { return share_ + "/" + rel; }

  std::unique_ptr<ShareIndex> OpenIndex(int threads = 0) {
    ShareIndexOptions options;
    options.hash_threads = threads;
    auto index = ShareIndex::Open(share_, index_path_, options);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? std::move(index).value() : nullptr;
  }

  // Scans, recording what the callbacks saw.
  ScanStats ScanAndRecord(ShareIndex& index) {
    indexed_.clear();
    removed_.clear();
    unsettled_.clear();
    ScanCallbacks cb;
    cb.on_indexed = [&](const SharedFile& f) { indexed_.push_back(f); };
    cb.on_removed = [&](const SharedFile& f) { removed_.push_back(f.path); };
    cb.on_unsettled = [&](const std::string& p, const Status&) { unsettled_.push_back(p); };
    auto stats = index.Scan(cb);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : ScanStats{};
  }

  int64_t TotalBytes() const {
    int64_t n = 0;
    for (const auto& [path, data] : files_) n += static_cast<int64_t>(data.size());
    return n;
  }

  ScratchDir dir_;
  std::string share_, index_path_;
  std::map<std::string, std::string> files_;  // path -> content
  std::vector<SharedFile> indexed_;
  std::vector<std::string> removed_, unsettled_;
};

TEST_F(ShareIndexTest, IndexesEveryFileWithHashesComputedIndependently) {
  auto index = OpenIndex();
  ScanStats stats = ScanAndRecord(*index);
  EXPECT_EQ(stats.files, 5);
  EXPECT_EQ(stats.files_hashed, 5);
  EXPECT_EQ(stats.bytes_hashed, TotalBytes());
  EXPECT_EQ(index->bytes_hashed(), TotalBytes());
  EXPECT_TRUE(removed_.empty());
  EXPECT_TRUE(unsettled_.empty());

  std::set<std::string> reported;
  for (const auto& f : indexed_) EXPECT_TRUE(reported.insert(f.path).second) << f.path;
  EXPECT_EQ(reported.size(), files_.size());

  auto listed = index->Files();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), files_.size());
  for (const auto& f : *listed) {
    ASSERT_TRUE(files_.count(f.path)) << f.path;
    ExpectHashesOf(f, files_[f.path]);
    struct stat st {};
    ASSERT_EQ(::stat(Path(f.path).c_str(), &st), 0);
    EXPECT_EQ(f.inode, st.st_ino);
    EXPECT_EQ(f.device, st.st_dev);
    EXPECT_EQ(f.mtime_ns, st.st_mtim.tv_sec * 1'000'000'000 + st.st_mtim.tv_nsec);
  }
  // Ordered by path, and what the callback reported is what was stored.
  EXPECT_EQ(listed->front().path, "a/b/c/three-and-a-bit");
  for (const auto& f : indexed_) {
    auto found = index->FindBySha256(f.sha256);
    ASSERT_TRUE(found.ok() && found->has_value()) << f.path;
    EXPECT_EQ(**found, f);
  }
  auto none = index->FindBySha256(Sha256::HexOf("not shared"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(ShareIndexTest, ARestartOverAnUnchangedShareHashesNothing) {
  {
    auto index = OpenIndex();
    ScanAndRecord(*index);
  }
  auto index = OpenIndex();
  ScanStats stats = ScanAndRecord(*index);
  EXPECT_EQ(stats.bytes_hashed, 0);
  EXPECT_EQ(index->bytes_hashed(), 0);
  EXPECT_EQ(stats.files_unchanged, 5);
  EXPECT_EQ(stats.files, 5);
  EXPECT_TRUE(indexed_.empty());
  EXPECT_TRUE(removed_.empty());
  auto listed = index->Files();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 5u);
}

TEST_F(ShareIndexTest, SeesFilesModifiedDeletedAndAdded) {
  auto index = OpenIndex();
  ScanAndRecord(*index);

  // Same size, other bytes, other mtime.
  std::string changed = Bytes(kChunkBytes + 1, 9);
  Put(Path("a/b/mib-plus-one"), changed);
  struct timespec times[2] = {{::time(nullptr) - 60, 0}, {::time(nullptr) - 60, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, Path("a/b/mib-plus-one").c_str(), times, 0), 0);
  fs::remove(Path("one"));
  std::string added = Bytes(2 * kChunkBytes, 7);
  Put(Path("new/dir/added"), added);

  ScanStats stats = ScanAndRecord(*index);
  EXPECT_EQ(stats.bytes_hashed, static_cast<int64_t>(changed.size() + added.size()));
  EXPECT_EQ(stats.files_unchanged, 3);
  EXPECT_EQ(stats.files, 5);
  EXPECT_EQ(std::set<std::string>(removed_.begin(), removed_.end()),
            (std::set<std::string>{"a/b/mib-plus-one", "one"}));
  ASSERT_EQ(indexed_.size(), 2u);
  for (const auto& f : indexed_) {
    ExpectHashesOf(f, f.path == "new/dir/added" ? added : changed);
  }
  auto gone = index->FindBySha256(Sha256::HexOf(files_["one"]));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto old = index->FindBySha256(Sha256::HexOf(files_["a/b/mib-plus-one"]));
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());
}

// Renames keep their hashes: same inode, size and mtime under a new path.
TEST_F(ShareIndexTest, ARenameReusesTheHashes) {
  auto index = OpenIndex();
  ScanAndRecord(*index);
  fs::rename(Path("a/b/c/three-and-a-bit"), Path("moved"));
  ScanStats stats = ScanAndRecord(*index);
  EXPECT_EQ(stats.bytes_hashed, 0);
  EXPECT_EQ(stats.files_renamed, 1);
  EXPECT_EQ(removed_, std::vector<std::string>{"a/b/c/three-and-a-bit"});
  ASSERT_EQ(indexed_.size(), 1u);
  EXPECT_EQ(indexed_[0].path, "moved");
  ExpectHashesOf(indexed_[0], files_["a/b/c/three-and-a-bit"]);
}

TEST_F(ShareIndexTest, LeavesOutOwnFilesSymlinksAndSpecialFiles) {
  std::string outside = dir_.File("outside");
  Put(outside + "/secret", "not to be shared");
  Put(Path(PartialFileName("download.iso")), "partial");
  Put(Path("a/.ferry-tmp-123"), "temporary");
  ASSERT_EQ(::symlink((outside + "/secret").c_str(), Path("link-out").c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), Path("dir-link-out").c_str()), 0);
  ASSERT_EQ(::symlink("../../one", Path("a/b/link-in").c_str()), 0);
  ASSERT_EQ(::symlink("..", Path("a/loop").c_str()), 0);  // a cycle if followed
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);

  auto index = OpenIndex();
  ScanStats stats = ScanAndRecord(*index);
  EXPECT_EQ(stats.files, 5);
  EXPECT_EQ(stats.entries_skipped, 7);
  EXPECT_EQ(stats.bytes_hashed, TotalBytes());
  auto listed = index->Files();
  ASSERT_TRUE(listed.ok());
  std::set<std::string> paths;
  for (const auto& f : *listed) paths.insert(f.path);
  std::set<std::string> want;
  for (const auto& [path, data] : files_) want.insert(path);
  EXPECT_EQ(paths, want);
  auto secret = index->FindBySha256(Sha256::HexOf("not to be shared"));
  ASSERT_TRUE(secret.ok());
  EXPECT_FALSE(secret->has_value());
}

TEST_F(ShareIndexTest, RefusesAnIndexFileInsideTheShare) {
  auto index = ShareIndex::Open(share_, share_ + "/sub/index.sqlite");
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ShareIndex::Open(dir_.File("missing"), index_path_).status().code(), Code::kNotFound);
}

// Files are reported one by one while the rest are still being hashed, and
// a lookup made from the callback already finds the file reported.
TEST_F(ShareIndexTest, ReportsEachFileAsSoonAsItIsHashed) {
  for (int i = 0; i < 6; ++i)
    Put(Path("many/" + std::to_string(i)), Bytes(2 * kChunkBytes, 20 + i));
  auto index = OpenIndex(/*threads=*/1);
  std::vector<int64_t> hashed_at_report;
  ScanCallbacks cb;
  cb.on_indexed = [&](const SharedFile& f) {
    hashed_at_report.push_back(index->bytes_hashed());
    auto found = index->FindBySha256(f.sha256);
    ASSERT_TRUE(found.ok() && found->has_value()) << f.path;
    EXPECT_EQ((*found)->path, f.path);
  };
  auto stats = index->Scan(cb);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(hashed_at_report.size(), 11u);
  const int64_t total = stats->bytes_hashed;
  EXPECT_EQ(total, TotalBytes() + 12 * kChunkBytes);
  EXPECT_LT(hashed_at_report.front(), total / 2);
}

// A file rewritten while it is hashed is never reported or recorded with
// hashes of a mix of two versions; once it settles, a scan records it.
TEST_F(ShareIndexTest, AFileChangingDuringHashingIsNotRecordedWithWrongHashes) {
  const std::string path = Path("growing");
  const std::string before = Bytes(8 * kChunkBytes, 40);
  Put(path, before);
  std::string after = before;
  after.replace(0, 4096, std::string(4096, 'x'));
  after.replace(after.size() - 4096, 4096, std::string(4096, 'y'));
  const std::string appended = after + Bytes(kChunkBytes, 41);

  auto index = OpenIndex(/*threads=*/1);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    // As soon as hashing has begun: rewrite the first and the last 4 KiB, then
    // append a chunk.
    while (!done && index->bytes_hashed() == 0) std::this_thread::yield();
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::pwrite(fd.get(), after.data() + after.size() - 4096, 4096,
                       static_cast<off_t>(after.size() - 4096)),
              4096);
    ASSERT_EQ(::pwrite(fd.get(), after.data(), 4096, 0), 4096);
    ASSERT_EQ(::pwrite(fd.get(), appended.data() + after.size(), kChunkBytes,
                       static_cast<off_t>(after.size())),
              kChunkBytes);
  });
  ScanStats stats = ScanAndRecord(*index);
  done = true;
  writer.join();
  const std::set<std::string> versions = {Sha256::HexOf(before), Sha256::HexOf(after),
                                          Sha256::HexOf(appended)};
  for (const auto& f : indexed_) {
    if (f.path == "growing") {
      EXPECT_TRUE(versions.count(f.sha256)) << "a mixed version";
    }
  }
  auto listed = index->Files();
  ASSERT_TRUE(listed.ok());
  for (const auto& f : *listed) {
    if (f.path != "growing") continue;
    const std::string& content = f.size == static_cast<int64_t>(before.size()) ? before : appended;
    if (f.sha256 != Sha256::HexOf(before)) ExpectHashesOf(f, content);
  }
  EXPECT_EQ(stats.files_unsettled, static_cast<int64_t>(unsettled_.size()));

  // Settled: the next scans record exactly what is on disk.
  struct timespec times[2] = {{::time(nullptr) - 60, 0}, {::time(nullptr) - 60, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  ScanAndRecord(*index);
  EXPECT_TRUE(unsettled_.empty());
  auto found = index->FindBySha256(Sha256::HexOf(appended));
  ASSERT_TRUE(found.ok() && found->has_value());
  ExpectHashesOf(**found, appended);
}

// A file hashed in the same instant it was written is recorded, reported
// once, and checked again by the next scan, silently when it is unchanged.
TEST_F(ShareIndexTest, AJustWrittenFileIsCheckedOnceMore) {
  ASSERT_TRUE(testing::WriteFile(Path("fresh"), Bytes(1000, 50)).valid());
  auto index = OpenIndex();
  ScanAndRecord(*index);
  EXPECT_EQ(indexed_.size(), 6u);
  ScanStats again = ScanAndRecord(*index);
  EXPECT_EQ(again.bytes_hashed, 1000);  // the fresh file's recheck, nothing else
  EXPECT_TRUE(indexed_.empty());
  EXPECT_TRUE(removed_.empty());
  auto found = index->FindBySha256(Sha256::HexOf(Bytes(1000, 50)));
  ASSERT_TRUE(found.ok() && found->has_value());
}

TEST_F(ShareIndexTest, AStoppedScanEndsCancelledAndKeepsWhatItRecorded) {
  auto index = OpenIndex(/*threads=*/1);
  std::stop_source stop;
  int reported = 0;
  ScanCallbacks cb;
  cb.on_indexed = [&](const SharedFile&) {
    if (++reported == 1) stop.request_stop();
  };
  auto stats = index->Scan(cb, stop.get_token());
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Code::kCancelled);
  auto listed = index->Files();
  ASSERT_TRUE(listed.ok());
  EXPECT_GE(listed->size(), 1u);
  EXPECT_LT(listed->size(), 5u);
  // The next scan finishes the job without hashing again what was recorded.
  auto rest = index->Scan();
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->files, 5);
  EXPECT_EQ(rest->files_unchanged, static_cast<int64_t>(listed->size()));
}

}  // namespace
}  // namespace ferry
