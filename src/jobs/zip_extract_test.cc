// ExtractZip against hostile and broken archives: nothing may be written
// outside the destination, and an unsafe archive writes nothing at all.
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "jobs/zip_archive.h"
#include "jobs/zip_bomb_test_util.h"
#include "jobs/zip_test_util.h"

namespace ferry::jobs {
namespace {

using namespace ::ferry::jobs::testing;  // NOLINT: test helpers

class ZipExtractTest : public ZipFixture {
 protected:
  void SetUp() override {
    ZipFixture::SetUp();
    fs::create_directories(base_ / "stage/dest");
    WriteAll(base_ / "sentinel", "keep me");
  }

  Status Extract(const fs::path& archive, JobControl& control, const UnzipLimits& limits = {}) {
    UniqueFd in = OpenFd(archive, O_RDONLY);
    UniqueFd dest = OpenFd(base_ / "stage/dest", O_RDONLY | O_DIRECTORY);
    return ExtractZip(in.get(), dest.get(), control, limits);
  }
  Status Extract(const fs::path& archive) {
    CountingJobControl control;
    return Extract(archive, control);
  }

  // Crafts `entries` (after a harmless first entry), extracts, and checks the
  // error and that nothing was written anywhere.
  void ExpectRefused(std::vector<Crafted> entries, Code code, const std::string& message_part) {
    entries.insert(entries.begin(), Crafted{"good.txt", "fine"});
    fs::path archive = base_ / "evil.zip";
    CraftZip(archive, entries);
    ExpectFileRefused(archive, code, message_part);
  }
  void ExpectFileRefused(const fs::path& archive, Code code, const std::string& message_part) {
    Status s = Extract(archive);
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_NE(s.message().find(message_part), std::string::npos) << s.ToString();
    ExpectNothingWritten();
  }
  void ExpectNothingWritten() {
    EXPECT_TRUE(fs::is_empty(base_ / "stage/dest"));
    EXPECT_EQ(ReadAll(base_ / "sentinel"), "keep me");
    std::vector<std::string> top;
    for (auto& e : fs::directory_iterator(base_)) top.push_back(e.path().filename().string());
    std::sort(top.begin(), top.end());
    EXPECT_EQ(top, (std::vector<std::string>{"evil.zip", "home", "sentinel", "stage"}));
    EXPECT_EQ(Snapshot(base_ / "stage"), (std::map<std::string, std::string>{{"dest", "D"}}));
    EXPECT_FALSE(fs::exists("/abs/evil"));
  }

  std::string Bytes(const std::vector<Crafted>& entries) {
    CraftZip(base_ / "evil.zip", entries);
    return ReadAll(base_ / "evil.zip");
  }
};

TEST_F(ZipExtractTest, RefusesPathsLeavingTheDestination) {
  ExpectRefused({{"../evil", "x"}}, Code::kInvalidArgument, "'../evil' is not a safe path");
  ExpectRefused({{"a/../../evil", "x"}}, Code::kInvalidArgument, "'a/../../evil'");
  ExpectRefused({{"/abs/evil", "x"}}, Code::kInvalidArgument, "'/abs/evil'");
  ExpectRefused({{"a\\..\\evil", "x"}}, Code::kInvalidArgument, "backslash");
  ExpectRefused({{"../evil/", "", Crafted::kDir}}, Code::kInvalidArgument, "'../evil/'");
  ExpectRefused({{"a/b\x01", "x"}}, Code::kInvalidArgument, "control character");
  ExpectRefused({{"./", "", Crafted::kDir}}, Code::kInvalidArgument, "destination itself");
}

TEST_F(ZipExtractTest, RefusesSymlinksLeavingTheDestination) {
  ExpectRefused({{"link", "../../outside", Crafted::kSymlink}}, Code::kInvalidArgument,
                "symlink entry 'link' has '..' in its target ('../../outside')");
  ExpectRefused({{"link", "/etc", Crafted::kSymlink}}, Code::kInvalidArgument,
                "symlink entry 'link' points outside the destination");
  ExpectRefused({{"a/b/link", "../../../x", Crafted::kSymlink}}, Code::kInvalidArgument,
                "'..' in its target");
  // Lexically inside, but "s/.." climbs out of wherever the link "s" leads.
  ExpectRefused({{"s", ".", Crafted::kSymlink}, {"t", "s/../outside", Crafted::kSymlink}},
                Code::kInvalidArgument, "'..' in its target");
}

// Regression: a link resolving inside the archive ("a/link" -> "../b") was
// unpacked; moved to the top of the home, the same target names a sibling of
// the home, another user's.
TEST_F(ZipExtractTest, RefusesSymlinksThatClimbEvenWhenTheyResolveInside) {
  ExpectRefused({{"b", "data"}, {"a/link", "../b", Crafted::kSymlink}}, Code::kInvalidArgument,
                "could point outside your home");
  ExpectRefused({{"a/b/link", "x/../../y", Crafted::kSymlink}}, Code::kInvalidArgument,
                "'..' in its target");
}

TEST_F(ZipExtractTest, RefusesEntriesThroughSymlinks) {
  ExpectRefused({{"sub/", "", Crafted::kDir},
                 {"link", "sub", Crafted::kSymlink},
                 {"link/file", "through the link"}},
                Code::kInvalidArgument, "'link/file' lies beneath 'link'");
  ExpectRefused({{"d/up", ".", Crafted::kSymlink}, {"d/up/up/evil", "x"}}, Code::kInvalidArgument,
                "'d/up/up/evil' lies beneath 'd/up'");
  // Entries beneath a file, in either order.
  ExpectRefused({{"f", "file"}, {"f/x", "x"}}, Code::kInvalidArgument, "lies beneath 'f'");
  ExpectRefused({{"g/x", "x"}, {"g", "file"}}, Code::kInvalidArgument, "more than one entry");
}

TEST_F(ZipExtractTest, CreatesInTreeSymlinksWithoutFollowingThem) {
  CraftZip(base_ / "evil.zip", {{"sub/", "", Crafted::kDir},
                                {"sub/f.txt", "data"},
                                {"sub/deep/f.txt", "deep data"},
                                {"sub/link", "deep/./f.txt", Crafted::kSymlink},
                                {"top", "sub", Crafted::kSymlink}});
  Status s = Extract(base_ / "evil.zip");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Snapshot(base_ / "stage/dest"), (std::map<std::string, std::string>{
                                                {"sub", "D"},
                                                {"sub/f.txt", "F:data"},
                                                {"sub/deep", "D"},
                                                {"sub/deep/f.txt", "F:deep data"},
                                                {"sub/link", "L:deep/./f.txt"},
                                                {"top", "L:sub"},
                                            }));
}

TEST_F(ZipExtractTest, RefusesDuplicateNames) {
  std::string zip = Bytes({{"good.txt", "fine"}, {"dup1.txt", "one"}, {"dup2.txt", "two"}});
  for (size_t p = zip.find("dup2.txt"); p != std::string::npos; p = zip.find("dup2.txt", p)) {
    zip.replace(p, 8, "dup1.txt");
  }
  WriteAll(base_ / "evil.zip", zip);
  ExpectFileRefused(base_ / "evil.zip", Code::kInvalidArgument,
                    "more than one entry named 'dup1.txt'");
  ExpectRefused({{"x", "file"}, {"x/", "", Crafted::kDir}}, Code::kInvalidArgument,
                "more than one entry named 'x'");
  ExpectRefused({{"a/b", "1"}, {"a//b", "2"}}, Code::kInvalidArgument,
                "more than one entry named 'a/b'");
}

TEST_F(ZipExtractTest, RefusesUnsupportedEntries) {
  std::string zip =
      Bytes({{"good.txt", "fine"}, {"odd.bin", "data", Crafted::kFile, ZIP_CM_STORE}});
  ASSERT_EQ(PatchHeaders(zip, "odd.bin", kMethodField, 12), 2);  // bzip2
  WriteAll(base_ / "evil.zip", zip);
  ExpectFileRefused(base_ / "evil.zip", Code::kInvalidArgument,
                    "entry 'odd.bin' uses an unsupported compression method");

  int err = 0;
  zip_t* za = zip_open((base_ / "evil.zip").c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(za, nullptr);
  std::string secret = "secret";
  zip_source_t* src = zip_source_buffer(za, secret.data(), secret.size(), 0);
  zip_int64_t idx = zip_file_add(za, "secret.txt", src, 0);
  ASSERT_GE(idx, 0);
  ASSERT_EQ(zip_file_set_encryption(za, static_cast<zip_uint64_t>(idx), ZIP_EM_TRAD_PKWARE, "pw"),
            0);
  ASSERT_EQ(zip_close(za), 0);
  ExpectFileRefused(base_ / "evil.zip", Code::kInvalidArgument, "entry 'secret.txt' is encrypted");
}

TEST_F(ZipExtractTest, EnforcesLimits) {
  CraftZip(base_ / "evil.zip", {{"a", "12345"}, {"b", "67890"}, {"c", "x"}});
  CountingJobControl control;
  Status s = Extract(base_ / "evil.zip", control, {.max_entries = 2});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("3 entries"), std::string::npos) << s.ToString();
  s = Extract(base_ / "evil.zip", control, {.max_total_bytes = 10});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("'c'"), std::string::npos) << s.ToString();
  ExpectNothingWritten();
  EXPECT_TRUE(Extract(base_ / "evil.zip", control, {.max_total_bytes = 11, .max_entries = 3}).ok());
}

// Regression: 200 central directory entries pointing at one deflated member
// were unpacked one after the other, gigabytes from a few hundred KB.
TEST_F(ZipExtractTest, RefusesOverlappingEntriesBeforeWritingAnything) {
  WriteAll(base_ / "evil.zip", OverlappingZip(10 << 20, 200));
  CountingJobControl control;
  Status s = Extract(base_ / "evil.zip", control, {.check_free_space = false});
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("entries 'bomb-0' and 'bomb-1' share bytes of the archive"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(control.done(), 0u);
  ExpectNothingWritten();
  // One entry alone is a fair archive (and within the ratio).
  WriteAll(base_ / "evil.zip", OverlappingZip(1 << 20, 1));
  ASSERT_TRUE(Extract(base_ / "evil.zip").ok());
  EXPECT_EQ(fs::file_size(base_ / "stage/dest/bomb-0"), 1u << 20);
}

TEST_F(ZipExtractTest, RefusesExpansionBeyondTheRatio) {
  // 8 MiB of zeros deflate to ~8 KB: about 1000:1, deflate's best.
  WriteAll(base_ / "evil.zip", OverlappingZip(8 << 20, 1));
  const uint64_t archive = fs::file_size(base_ / "evil.zip");
  CountingJobControl control;
  Status s = Extract(base_ / "evil.zip", control, {.max_ratio = 100});
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find(fmt::format("declares 8388608 bytes of output from {} bytes, more "
                                         "than 100 times its size",
                                         archive)),
            std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("--unzip-max-ratio"), std::string::npos) << s.ToString();
  ExpectNothingWritten();
  EXPECT_TRUE(Extract(base_ / "evil.zip", control, {.max_ratio = 0}).ok());
}

TEST_F(ZipExtractTest, RefusesOutputAboveTheBudgetOrTheFreeSpace) {
  CraftZip(base_ / "evil.zip", {{"a", TextBytes(3000, 1)}, {"b", TextBytes(3000, 2)}});
  CountingJobControl control;
  Status s = Extract(base_ / "evil.zip", control, {.max_output_bytes = 5999});
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("unpacks to 6000 bytes, more than the 5999 bytes this job may write"),
            std::string::npos)
      << s.ToString();
  ExpectNothingWritten();
  // Declared sizes beyond the free space: 40 entries of 4 GiB - 16 bytes
  // (160 GiB), checked only where less is free.
  std::vector<Crafted> big;
  for (int i = 0; i < 40; ++i) big.push_back({"f" + std::to_string(i), "x"});
  std::string zip = Bytes(big);
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(PatchHeaders(zip, "f" + std::to_string(i), kUncompressedSizeField, 0xfffffff0), 2);
  }
  WriteAll(base_ / "evil.zip", zip);
  struct statvfs vfs {};
  ASSERT_EQ(::statvfs(base_.c_str(), &vfs), 0);
  if (static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize < 40 * uint64_t{0xfffffff0}) {
    s = Extract(base_ / "evil.zip", control,
                {.max_total_bytes = uint64_t{1} << 40, .max_ratio = 0});
    EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
    EXPECT_NE(s.message().find("bytes free on the server's disk"), std::string::npos)
        << s.ToString();
    ExpectNothingWritten();
  }
}

TEST_F(ZipExtractTest, StopsAtDataLargerThanDeclared) {
  std::string zip = Bytes({{"bomb.txt", std::string(100000, 'A')}});
  ASSERT_EQ(PatchHeaders(zip, "bomb.txt", kUncompressedSizeField, 1000), 2);
  WriteAll(base_ / "evil.zip", zip);
  Status s = Extract(base_ / "evil.zip");
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find("entry 'bomb.txt' is corrupt: it holds more data than the 1000"),
            std::string::npos)
      << s.ToString();
  // The half-written file is removed again (and never held more than declared).
  ExpectNothingWritten();
}

TEST_F(ZipExtractTest, ReportsCrcMismatchAsDataLoss) {
  std::string zip = Bytes({{"data.txt", TextBytes(5000, 1)}});
  ASSERT_EQ(PatchHeaders(zip, "data.txt", kCrcField, 0x12345678), 2);
  WriteAll(base_ / "evil.zip", zip);
  Status s = Extract(base_ / "evil.zip");
  EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  EXPECT_NE(s.message().find("entry 'data.txt' is corrupt (CRC mismatch)"), std::string::npos)
      << s.ToString();
  ExpectNothingWritten();
}

TEST_F(ZipExtractTest, RefusesTruncatedAndNonZipFiles) {
  std::string zip = Bytes({{"a.txt", TextBytes(20000, 1)}, {"b.txt", TextBytes(20000, 2)}});
  WriteAll(base_ / "evil.zip", zip.substr(0, zip.size() / 2));
  ExpectFileRefused(base_ / "evil.zip", Code::kInvalidArgument, "not a ZIP archive");
  WriteAll(base_ / "evil.zip", zip.substr(0, zip.size() - 10));
  ExpectFileRefused(base_ / "evil.zip", Code::kInvalidArgument, "not a ZIP archive");
  WriteAll(base_ / "evil.zip", "hello, this is plain text and no archive at all\n");
  ExpectFileRefused(base_ / "evil.zip", Code::kInvalidArgument, "not a ZIP archive");
  WriteAll(base_ / "evil.zip", "");
  ExpectFileRefused(base_ / "evil.zip", Code::kInvalidArgument, "not a ZIP archive");
}

TEST_F(ZipExtractTest, StopRequestCancels) {
  CraftZip(base_ / "evil.zip", {{"a.txt", TextBytes(600000, 1)}, {"b.txt", TextBytes(600000, 2)}});
  StopAfter stop_now(0);
  EXPECT_EQ(Extract(base_ / "evil.zip", stop_now).code(), Code::kCancelled);
  ExpectNothingWritten();
  StopAfter stop_midway(1);
  EXPECT_EQ(Extract(base_ / "evil.zip", stop_midway).code(), Code::kCancelled);
  ExpectNothingWritten();  // a.txt was cut off and removed
}

}  // namespace
}  // namespace ferry::jobs
