#include "core/rel_path.h"
#include "core/display_text.h"

#include <random>

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(RelPathTest, AcceptsNormalPathsAndNormalises) {
  auto p = RelPath::Parse("docs//notes.txt/");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Relative(), "docs/notes.txt");
  EXPECT_EQ(p->Display(), "/docs/notes.txt");
  EXPECT_EQ(p->Leaf(), "notes.txt");
  EXPECT_EQ(p->Parent().Relative(), "docs");
  auto dot = RelPath::Parse("./a/./b");
  ASSERT_TRUE(dot.ok());
  EXPECT_EQ(dot->Relative(), "a/b");
}

TEST(RelPathTest, EmptyAndDotAreTheRoot) {
  for (const char* raw : {"", ".", "./", ".//."}) {
    auto p = RelPath::Parse(raw);
    ASSERT_TRUE(p.ok()) << raw;
    EXPECT_TRUE(p->IsRoot()) << raw;
    EXPECT_EQ(p->Display(), "/");
  }
}

TEST(RelPathTest, RefusesTraversalAndAbsolutePaths) {
  for (const char* raw : {"..", "../etc/passwd", "a/../../b", "a/..", "/etc/passwd", "/", "//x"}) {
    auto p = RelPath::Parse(raw);
    EXPECT_FALSE(p.ok()) << raw;
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument) << raw;
  }
}

TEST(RelPathTest, RefusesNulAndControlCharacters) {
  EXPECT_EQ(RelPath::Parse(std::string("a\0b", 3)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RelPath::Parse("a\nb").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RelPath::Parse("a\x1b[31mred").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RelPath::Parse("del\x7f").status().code(), Code::kInvalidArgument);
  // The message never echoes the raw control character.
  auto s = RelPath::Parse("bad\x07name").status();
  EXPECT_EQ(s.message().find('\x07'), std::string::npos);
  EXPECT_NE(s.message().find("\\x{07}"), std::string::npos);
}

TEST(RelPathTest, RefusesC1ControlsAndEscapesDisplayTricks) {
  EXPECT_EQ(RelPath::Parse("csi\xc2\x9b"
                           "31m")
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(RelPath::Parse("caf\xc3\xa9").ok());  // U+00E9 is a letter, not C1
  EXPECT_EQ(ForDisplay("a\xc2\x9b"
                       "b"),
            "a\\u{9b}"
            "b");
  // A right-to-left override would let "evil\u202Etxt.exe" display as "evilexe.txt".
  EXPECT_EQ(ForDisplay("evil\xe2\x80\xaetxt.exe"), "evil\\u{202e}txt.exe");
  EXPECT_EQ(ForDisplay("x\xe2\x81\xa6y"), "x\\u{2066}y");
  EXPECT_EQ(ForDisplay("plain \xe2\x82\xac"), "plain \xe2\x82\xac");  // the euro sign stays
}

TEST(RelPathTest, RefusesOverlongNamesAndPaths) {
  EXPECT_TRUE(RelPath::Parse(std::string(255, 'a')).ok());
  EXPECT_EQ(RelPath::Parse(std::string(256, 'a')).status().code(), Code::kInvalidArgument);
  std::string deep;
  for (int i = 0; i < 2100; ++i) deep += "a/";
  EXPECT_EQ(RelPath::Parse(deep).status().code(), Code::kInvalidArgument);
}

TEST(RelPathTest, ValidatesUtf8) {
  EXPECT_TRUE(RelPath::Parse("caf\xc3\xa9/\xe2\x82\xac").ok());
  EXPECT_FALSE(RelPath::Parse("\xff\xfe").ok());
  EXPECT_FALSE(RelPath::Parse("\xc0\xaf").ok());      // overlong '/'
  EXPECT_FALSE(RelPath::Parse("\xed\xa0\x80").ok());  // surrogate
  EXPECT_FALSE(RelPath::Parse("\xe2\x82").ok());      // truncated
}

TEST(RelPathTest, IsWithin) {
  auto a = *RelPath::Parse("a");
  auto ab = *RelPath::Parse("a/b");
  auto abc = *RelPath::Parse("a-b");
  EXPECT_TRUE(ab.IsWithin(a));
  EXPECT_TRUE(a.IsWithin(a));
  EXPECT_FALSE(a.IsWithin(ab));
  EXPECT_FALSE(abc.IsWithin(a));
  EXPECT_TRUE(a.IsWithin(RelPath()));
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// Random byte strings, biased towards the characters that matter ('/', '.',
// NUL, controls, UTF-8 lead bytes): whatever Parse accepts must be a path
// strictly beneath the root that survives a round trip unchanged.
TEST(RelPathTest, RandomInputsNeverYieldAnEscapingPath) {
  std::mt19937 rng(20261121);
  const std::string alphabet =
      std::string("/./..//a\0\x01\x1f\x7f\xc2\x9b\xe2\x80\xae\xc3\xa9", 20);
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string raw;
    size_t len = rng() % 24;
    for (size_t k = 0; k < len; ++k) {
      raw += (rng() % 4 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    auto p = RelPath::Parse(raw);
    if (!p.ok()) {
      ASSERT_EQ(p.status().code(), Code::kInvalidArgument);
      continue;
    }
    accepted++;
    for (const auto& part : p->parts()) {
      ASSERT_FALSE(part.empty());
      ASSERT_NE(part, ".");
      ASSERT_NE(part, "..");
      ASSERT_EQ(part.find('/'), std::string::npos);
      ASSERT_TRUE(ValidateName(part).ok());
      for (unsigned char c : part) ASSERT_FALSE(c < 0x20 || c == 0x7f) << ForDisplay(raw);
    }
    auto again = RelPath::Parse(p->Relative() == "." ? "" : p->Relative());
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(*again, *p);
  }
  EXPECT_GT(accepted, 1000);  // the generator reaches the accepting paths too
}

}  // namespace
}  // namespace ferry
