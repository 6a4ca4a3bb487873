#include "client/partial_mark.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace ferry {
namespace {

namespace fs = std::filesystem;

TEST(PartialMarkTest, EncodesAndDecodesEveryField) {
  PartialMark mark{"files.example:7070", "dir/a b\\c\nd", 12345, 1'700'000'000'123'456'789};
  auto decoded = DecodeMark(EncodeMark(mark));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, mark);

  PartialMark early{"127.0.0.1:7070", "x.bin"};  // size not known yet
  decoded = DecodeMark(EncodeMark(early));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, early);
  EXPECT_EQ(decoded->size, -1);
}

TEST(PartialMarkTest, RejectsValuesFerryDidNotWrite) {
  EXPECT_FALSE(DecodeMark(""));
  EXPECT_FALSE(DecodeMark("x"));
  EXPECT_FALSE(DecodeMark("ferry partial 1\nserver a\n"));
  EXPECT_FALSE(DecodeMark("ferry partial 1\nserver a\nremote b"));  // no final newline
  EXPECT_FALSE(DecodeMark("ferry partial 2\nserver a\nremote b\n"));
  EXPECT_FALSE(DecodeMark("ferry partial 1\nremote b\nserver a\n"));
  EXPECT_FALSE(DecodeMark("ferry partial 1\nserver a\nremote b\\q\n"));
  EXPECT_FALSE(DecodeMark("ferry partial 1\nserver a\nremote b\nsize -1\nmtime_ns 0\n"));
  EXPECT_FALSE(DecodeMark("ferry partial 1\nserver a\nremote b\nsize 1x\nmtime_ns 0\n"));
  EXPECT_FALSE(DecodeMark("ferry partial 1\nserver a\nremote b\nsize 1\n"));
  EXPECT_TRUE(DecodeMark("ferry partial 1\nserver a\nremote b\nsize 1\nmtime_ns 2\n"));
}

TEST(PartialMarkTest, OnlyTheSameServerAndPathIsTheSameDownload) {
  PartialMark wanted{"s:1", "a/b"};
  EXPECT_TRUE(SameDownload({"s:1", "a/b", 10, 20}, wanted));
  EXPECT_FALSE(SameDownload({"s:2", "a/b", 10, 20}, wanted));
  EXPECT_FALSE(SameDownload({"s:1", "a/b.part", 10, 20}, wanted));
}

TEST(PartialMarkTest, AVersionIsSizeAndMtime) {
  PartialMark known{"s", "r", 10, 20};
  EXPECT_TRUE(SameVersion(known, 10, 20));
  EXPECT_FALSE(SameVersion(known, 11, 20));
  EXPECT_FALSE(SameVersion(known, 10, 21));
  EXPECT_TRUE(SameVersion(PartialMark{"s", "r"}, 99, 99));  // nothing recorded yet
}

class OpenPartialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-partial-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    part_ = (dir_ / "x.part").string();
    // Skip where the file system keeps no user xattrs: nothing can be marked.
    std::ofstream(dir_ / "probe") << "";
    if (::setxattr((dir_ / "probe").c_str(), "user.ferry.probe", "1", 1, 0) != 0) {
      GTEST_SKIP() << "this file system has no user xattrs";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::optional<PartialMark> MarkOf(const std::string& path) {
    char buf[4096];
    ssize_t n = ::getxattr(path.c_str(), kPartialMarkAttr, buf, sizeof buf);
    if (n < 0) return std::nullopt;
    return DecodeMark(std::string_view(buf, static_cast<size_t>(n)));
  }
  void WriteMarked(const std::string& content, const PartialMark& mark) {
    std::ofstream(part_) << content;
    std::string value = EncodeMark(mark);
    ASSERT_EQ(::setxattr(part_.c_str(), kPartialMarkAttr, value.data(), value.size(), 0), 0);
  }

  fs::path dir_;
  std::string part_;
  const PartialMark wanted_{"127.0.0.1:7070", "dir/x"};
};

TEST_F(OpenPartialTest, CreatesAMarkedFile) {
  auto p = OpenPartial(part_, wanted_, false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->length, 0);
  EXPECT_TRUE(p->marked);
  EXPECT_FALSE(p->replaced);
  auto mark = MarkOf(part_);
  ASSERT_TRUE(mark.has_value());
  EXPECT_EQ(*mark, wanted_);
}

TEST_F(OpenPartialTest, ResumesItsOwnPartial) {
  PartialMark mark = wanted_;
  mark.size = 100;
  mark.mtime_ns = 5;
  WriteMarked("0123456789", mark);
  auto p = OpenPartial(part_, wanted_, false);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->length, 10);
  EXPECT_EQ(p->mark, mark);  // the recorded version, to compare with the server's
}

TEST_F(OpenPartialTest, RefusesAFileFerryDidNotMake) {
  std::ofstream(part_) << "someone's download";
  auto p = OpenPartial(part_, wanted_, false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("exists and was not made by ferry; move it away"),
            std::string::npos)
      << p.status().message();
  EXPECT_EQ(Read(part_), "someone's download");
}

TEST_F(OpenPartialTest, RefusesFerrysPartialOfAnotherDownload) {
  WriteMarked("abc", PartialMark{"127.0.0.1:7070", "dir/x.part", 3, 1});
  auto p = OpenPartial(part_, wanted_, false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Read(part_), "abc");
  WriteMarked("abc", PartialMark{"elsewhere:7070", "dir/x", 3, 1});
  EXPECT_EQ(OpenPartial(part_, wanted_, false).status().code(), Code::kFailedPrecondition);
}

TEST_F(OpenPartialTest, ReplaceUnlinksRatherThanTruncates) {
  // x.part is a hard link to data that must survive.
  std::ofstream(dir_ / "keep") << "precious";
  fs::create_hard_link(dir_ / "keep", part_);
  auto p = OpenPartial(part_, wanted_, true);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->replaced);
  EXPECT_EQ(p->length, 0);
  EXPECT_EQ(Read(dir_ / "keep"), "precious");
  EXPECT_EQ(Read(part_), "");
  EXPECT_TRUE(MarkOf(part_).has_value());
}

TEST_F(OpenPartialTest, NeverFollowsASymlink) {
  std::ofstream(dir_ / "target") << "precious";
  fs::create_symlink(dir_ / "target", part_);
  auto p = OpenPartial(part_, wanted_, false);
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  p = OpenPartial(part_, wanted_, true);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(fs::is_symlink(part_));
  EXPECT_EQ(Read(dir_ / "target"), "precious");
  EXPECT_FALSE(MarkOf((dir_ / "target").string()).has_value());
}

TEST_F(OpenPartialTest, RefusesAFifoWithoutHanging) {
  ASSERT_EQ(::mkfifo(part_.c_str(), 0644), 0);
  EXPECT_EQ(OpenPartial(part_, wanted_, false).status().code(), Code::kFailedPrecondition);
}

TEST_F(OpenPartialTest, RemoveMarkLeavesAPlainFile) {
  auto p = OpenPartial(part_, wanted_, false);
  ASSERT_TRUE(p.ok());
  RemoveMark(p->fd.get());
  EXPECT_FALSE(MarkOf(part_).has_value());
}

}  // namespace
}  // namespace ferry
