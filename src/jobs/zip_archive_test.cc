#include "jobs/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jobs/zip_test_util.h"

namespace ferry::jobs {
namespace {

using namespace ::ferry::jobs::testing;  // NOLINT: test helpers

constexpr time_t kMtime = 1600000000;  // 2020-09-13

class ZipWriteTest : public ZipFixture {
 protected:
  // A tree with everything the format has to get right, under home/docs, plus home/misc/notes.txt.
  void MakeTree() {
    fs::create_directories(H("docs/sub/deeper"));
    fs::create_directories(H("docs/empty_dir"));
    fs::create_directories(H("docs/日本語"));
    fs::create_directories(H("misc"));
    WriteAll(H("docs/readme.txt"), TextBytes(5000, 1));
    WriteAll(H("docs/sub/deeper/notes.md"), TextBytes(123, 2));
    WriteAll(H("docs/empty.txt"), "");
    WriteAll(H("docs/random.bin"), RandomBytes((3 << 20) + 123, 3));
    WriteAll(H("docs/exact64k.bin"), TextBytes(64 << 10, 4));
    // Several deflate blocks, each using the one before as its dictionary.
    WriteAll(H("docs/big.txt"), TextBytes((2 << 20) + 777, 5));
    WriteAll(H("docs/héllo wörld ☃.txt"), "unicode\n");
    WriteAll(H("docs/日本語/ファイル.txt"), "こんにちは\n");
    WriteAll(H("docs/script.sh"), "#!/bin/sh\necho hi\n");
    fs::permissions(H("docs/script.sh"), static_cast<fs::perms>(0750));
    WriteAll(H("misc/notes.txt"), "notes\n");
    // Never followed, never stored.
    fs::create_symlink("readme.txt", H("docs/link"));
    fs::create_symlink("/etc", H("docs/etc_link"));
    ASSERT_EQ(::mkfifo(H("docs/fifo").c_str(), 0600), 0);
    for (auto& e : fs::recursive_directory_iterator(H("docs"))) SetMtime(e.path(), kMtime);
    SetMtime(H("docs"), kMtime);
    SetMtime(H("misc/notes.txt"), kMtime);
  }

  // What unpacking the archive of {docs, misc/notes.txt} must give.
  std::map<std::string, std::string> Expected() {
    std::map<std::string, std::string> want;
    for (const auto& [rel, what] : Snapshot(H("docs"))) {
      if (what[0] == 'D' || what[0] == 'F') want["docs/" + rel] = what;
    }
    want["docs"] = "D";
    want["notes.txt"] = "F:notes\n";
    return want;
  }

  Status Zip(const std::vector<std::string>& paths, const fs::path& out, JobControl& control,
             ZipOptions options = {}) {
    std::vector<RelPath> rel;
    for (const auto& p : paths) rel.push_back(P(p));
    UniqueFd fd = OpenFd(out, O_RDWR | O_CREAT | O_EXCL);
    return WriteZip(*home_, rel, fd.get(), control, options);
  }
};

TEST_F(ZipWriteTest, RoundTripThroughUnzipAndFerry) {
  MakeTree();
  CountingJobControl control;
  fs::path archive = base_ / "out.zip";
  ASSERT_TRUE(Zip({"docs", "misc/notes.txt"}, archive, control, {.threads = 2}).ok());
  uint64_t total = 0;
  for (const auto& [rel, what] : Expected()) {
    if (what[0] == 'F') total += what.size() - 2;
  }
  EXPECT_EQ(control.total(), total);
  EXPECT_EQ(control.done(), total);

  ASSERT_EQ(Shell("/usr/bin/unzip -t " + Quote(archive)), 0);
  ASSERT_EQ(Shell("/usr/bin/unzip -q -d " + Quote(base_ / "by_unzip") + " " + Quote(archive)), 0);
  EXPECT_EQ(Snapshot(base_ / "by_unzip"), Expected());
  EXPECT_EQ(Lstat(base_ / "by_unzip/docs/script.sh").st_mode & 07777, 0750u);
  EXPECT_EQ(Lstat(base_ / "by_unzip/docs/big.txt").st_mtime, kMtime);

  fs::create_directories(base_ / "by_ferry");
  UniqueFd in = OpenFd(archive, O_RDONLY);
  UniqueFd dest = OpenFd(base_ / "by_ferry", O_RDONLY | O_DIRECTORY);
  CountingJobControl unzip_control;
  Status s = ExtractZip(in.get(), dest.get(), unzip_control);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Snapshot(base_ / "by_ferry"), Expected());
  EXPECT_EQ(unzip_control.total(), total);
  EXPECT_EQ(unzip_control.done(), total);
  EXPECT_EQ(Lstat(base_ / "by_ferry/docs/script.sh").st_mode & 07777, 0750u);
  EXPECT_EQ(Lstat(base_ / "by_ferry/docs/readme.txt").st_mtime, kMtime);
  EXPECT_EQ(Lstat(base_ / "by_ferry/docs/sub").st_mtime, kMtime);
  EXPECT_EQ(Lstat(base_ / "by_ferry/docs").st_mtime, kMtime);
}

TEST_F(ZipWriteTest, EntriesAreNamedFromEachPathsParentAndDeflated) {
  fs::create_directories(H("docs"));
  fs::create_directories(H("photos/empty"));
  WriteAll(H("docs/a.txt"), TextBytes(10000, 7));
  WriteAll(H("photos/x.jpg"), RandomBytes(1000, 8));
  WriteAll(H("photos/nothing"), "");
  CountingJobControl control;
  fs::path archive = base_ / "out.zip";
  ASSERT_TRUE(Zip({"docs/a.txt", "photos"}, archive, control).ok());
  EXPECT_EQ(ListZip(archive), (std::vector<std::string>{"a.txt", "photos/", "photos/empty/",
                                                        "photos/nothing", "photos/x.jpg"}));
  int err = 0;
  zip_t* za = zip_open(archive.c_str(), ZIP_RDONLY, &err);
  ASSERT_NE(za, nullptr);
  zip_stat_t st;
  ASSERT_EQ(zip_stat(za, "a.txt", 0, &st), 0);
  EXPECT_EQ(st.comp_method, ZIP_CM_DEFLATE);
  EXPECT_LT(st.comp_size, st.size / 2);
  ASSERT_EQ(zip_stat(za, "photos/nothing", 0, &st), 0);
  EXPECT_EQ(st.comp_method, ZIP_CM_STORE);
  zip_uint8_t opsys = 0;
  zip_uint32_t attr = 0;
  ASSERT_EQ(zip_file_get_external_attributes(za, 1, 0, &opsys, &attr), 0);
  EXPECT_EQ(opsys, ZIP_OPSYS_UNIX);
  EXPECT_TRUE(S_ISDIR(attr >> 16));
  zip_discard(za);
}

// libzip must copy the pipeline's deflate data rather than compress again on
// its one thread: the blocks' sync-flush markers (an empty stored block,
// 00 00 ff ff) survive only if it does.
TEST_F(ZipWriteTest, LibzipCopiesPrecompressedData) {
  fs::create_directories(H("d"));
  WriteAll(H("d/big.txt"), TextBytes(3 << 20, 11));
  CountingJobControl control;
  fs::path archive = base_ / "out.zip";
  ASSERT_TRUE(Zip({"d/big.txt"}, archive, control).ok());
  int err = 0;
  zip_t* za = zip_open(archive.c_str(), ZIP_RDONLY, &err);
  ASSERT_NE(za, nullptr);
  zip_file_t* zf = zip_fopen_index(za, 0, ZIP_FL_COMPRESSED);
  ASSERT_NE(zf, nullptr);
  std::string raw(4 << 20, '\0');
  zip_int64_t n = zip_fread(zf, raw.data(), raw.size());
  ASSERT_GT(n, 0);
  raw.resize(static_cast<size_t>(n));
  zip_fclose(zf);
  zip_discard(za);
  EXPECT_NE(raw.find(std::string("\0\0\xff\xff", 4)), std::string::npos);
  EXPECT_EQ(Shell("/usr/bin/unzip -t " + Quote(archive)), 0);
}

TEST_F(ZipWriteTest, OutputDoesNotDependOnThreadCount) {
  MakeTree();
  CountingJobControl control;
  ASSERT_TRUE(Zip({"docs"}, base_ / "one.zip", control, {.threads = 1}).ok());
  ASSERT_TRUE(Zip({"docs"}, base_ / "three.zip", control, {.threads = 3}).ok());
  EXPECT_EQ(ReadAll(base_ / "one.zip"), ReadAll(base_ / "three.zip"));
}

TEST_F(ZipWriteTest, NameClashIsInvalidArgument) {
  fs::create_directories(H("a/photos"));
  fs::create_directories(H("b/photos"));
  WriteAll(H("a/x.txt"), "a");
  WriteAll(H("b/x.txt"), "b");
  CountingJobControl control;
  Status s = Zip({"a/x.txt", "b/x.txt"}, base_ / "1.zip", control);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("x.txt"), std::string::npos) << s.message();
  EXPECT_EQ(Zip({"a/photos", "b/photos"}, base_ / "2.zip", control).code(), Code::kInvalidArgument);
  EXPECT_EQ(fs::file_size(base_ / "1.zip"), 0u);
}

TEST_F(ZipWriteTest, RefusesBadInputs) {
  fs::create_directories(H("d"));
  fs::create_symlink("d", H("link"));
  CountingJobControl control;
  EXPECT_EQ(Zip({}, base_ / "1.zip", control).code(), Code::kInvalidArgument);
  EXPECT_EQ(Zip({""}, base_ / "2.zip", control).code(), Code::kInvalidArgument);
  EXPECT_EQ(Zip({"missing"}, base_ / "3.zip", control).code(), Code::kNotFound);
  EXPECT_EQ(Zip({"link"}, base_ / "4.zip", control).code(), Code::kFailedPrecondition);
  EXPECT_EQ(Zip({"d"}, base_ / "5.zip", control, {.level = 11}).code(), Code::kInvalidArgument);
}

TEST_F(ZipWriteTest, SkipsTheArchiveBeingWrittenInsideTheTree) {
  fs::create_directories(H("d"));
  WriteAll(H("d/a.txt"), "a");
  CountingJobControl control;
  ASSERT_TRUE(Zip({"d"}, H("d/out.zip"), control).ok());
  EXPECT_EQ(ListZip(H("d/out.zip")), (std::vector<std::string>{"d/", "d/a.txt"}));
}

TEST_F(ZipWriteTest, StopRequestCancels) {
  MakeTree();
  StopAfter stop_now(0);
  EXPECT_EQ(Zip({"docs"}, base_ / "1.zip", stop_now).code(), Code::kCancelled);
  StopAfter stop_midway(1);  // after the first block
  Status s = Zip({"docs"}, base_ / "2.zip", stop_midway, {.threads = 2});
  EXPECT_EQ(s.code(), Code::kCancelled) << s.ToString();
}

TEST_F(ZipWriteTest, ExtractsArchiveMadeByInfoZip) {
  fs::create_directories(H("tree/sub/empty"));
  WriteAll(H("tree/a.txt"), TextBytes(200000, 9));
  WriteAll(H("tree/sub/r.bin"), RandomBytes(300000, 10));
  WriteAll(H("tree/sub/zero"), "");
  WriteAll(H("tree/ünïcødé.txt"), "u\n");
  fs::create_symlink("sub/r.bin", H("tree/link"));  // stored as a link with -y
  fs::path archive = base_ / "info.zip";
  ASSERT_EQ(Shell("cd " + Quote(H("")) + " && /usr/bin/zip -q -r -y " + Quote(archive) + " tree"),
            0);
  fs::create_directories(base_ / "out");
  UniqueFd in = OpenFd(archive, O_RDONLY);
  UniqueFd dest = OpenFd(base_ / "out", O_RDONLY | O_DIRECTORY);
  CountingJobControl control;
  Status s = ExtractZip(in.get(), dest.get(), control);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto want = Snapshot(H(""));
  EXPECT_EQ(Snapshot(base_ / "out"), want);
  EXPECT_EQ(want.at("tree/link"), "L:sub/r.bin");
}

// Info-ZIP streaming to a pipe writes data descriptors after local headers that
// still carry the uncompressed size; libzip's ZIP_CHECKCONS alone refuses that.
TEST_F(ZipWriteTest, ExtractsArchiveInfoZipStreamedThroughAPipe) {
  fs::create_directories(H("tree/sub"));
  WriteAll(H("tree/a.txt"), TextBytes(100000, 12));
  WriteAll(H("tree/sub/r.bin"), RandomBytes(70000, 13));
  fs::path archive = base_ / "piped.zip";
  ASSERT_EQ(
      Shell("cd " + Quote(H("tree")) + " && /usr/bin/zip -q -r - . | cat > " + Quote(archive)), 0);
  fs::create_directories(base_ / "out");
  UniqueFd in = OpenFd(archive, O_RDONLY);
  UniqueFd dest = OpenFd(base_ / "out", O_RDONLY | O_DIRECTORY);
  CountingJobControl control;
  Status s = ExtractZip(in.get(), dest.get(), control);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Snapshot(base_ / "out"), Snapshot(H("tree")));
}

}  // namespace
}  // namespace ferry::jobs
