// ExtractZip against hostile and broken archives: nothing may be written
// outside the destination, and an unsafe archive writes nothing at all.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "jobs/zip_archive.h"
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
                "symlink entry 'link' points outside the destination");
  ExpectRefused({{"link", "/etc", Crafted::kSymlink}}, Code::kInvalidArgument,
                "symlink entry 'link' points outside the destination");
  ExpectRefused({{"a/b/link", "../../../x", Crafted::kSymlink}}, Code::kInvalidArgument,
                "points outside the destination");
  // Lexically inside, but "s/.." climbs out of wherever the link "s" leads.
  ExpectRefused({{"s", ".", Crafted::kSymlink}, {"t", "s/../outside", Crafted::kSymlink}},
                Code::kInvalidArgument, "'..' after a name");
}

TEST_F(ZipExtractTest, RefusesEntriesThroughSymlinks) {
  ExpectRefused({{"sub/", "", Crafted::kDir},
                 {"link", "sub", Crafted::kSymlink},
                 {"link/file", "through the link"}},
                Code::kInvalidArgument, "'link/file' lies beneath 'link'");
  ExpectRefused({{"d/up", "..", Crafted::kSymlink}, {"d/up/up/evil", "x"}}, Code::kInvalidArgument,
                "'d/up/up/evil' lies beneath 'd/up'");
  // Entries beneath a file, in either order.
  ExpectRefused({{"f", "file"}, {"f/x", "x"}}, Code::kInvalidArgument, "lies beneath 'f'");
  ExpectRefused({{"g/x", "x"}, {"g", "file"}}, Code::kInvalidArgument, "more than one entry");
}

TEST_F(ZipExtractTest, CreatesInTreeSymlinksWithoutFollowingThem) {
  CraftZip(base_ / "evil.zip", {{"sub/", "", Crafted::kDir},
                                {"sub/f.txt", "data"},
                                {"sub/deep/link", "../f.txt", Crafted::kSymlink},
                                {"top", "sub", Crafted::kSymlink}});
  Status s = Extract(base_ / "evil.zip");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Snapshot(base_ / "stage/dest"), (std::map<std::string, std::string>{
                                                {"sub", "D"},
                                                {"sub/f.txt", "F:data"},
                                                {"sub/deep", "D"},
                                                {"sub/deep/link", "L:../f.txt"},
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
