#include "core/display_text.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(DisplayTextTest, PlainTextIsUnchanged) {
  EXPECT_EQ(ForDisplay("notes.txt"), "notes.txt");
  EXPECT_EQ(ForDisplay("Grüße – 日本語 🎉"), "Grüße – 日本語 🎉");
  EXPECT_EQ(ForDisplay(""), "");
  EXPECT_TRUE(IsPlainDisplay("Grüße"));
}

TEST(DisplayTextTest, ControlsAreEscaped) {
  EXPECT_EQ(ForDisplay("a\x1b[31mb"), "a\\x{1b}[31mb");
  EXPECT_EQ(ForDisplay(std::string("a\0b", 3)), "a\\x{00}b");
  EXPECT_EQ(ForDisplay("a\nb\x7f"), "a\\x{0a}b\\x{7f}");
  EXPECT_EQ(ForDisplay("a\xc2\x85z"), "a\\u{85}z");  // NEL, a C1 control
}

TEST(DisplayTextTest, InvisibleAndBidiCharactersAreEscaped) {
  EXPECT_EQ(ForDisplay("in\u200bvoice"), "in\\u{200b}voice");
  EXPECT_EQ(ForDisplay("\ufeffreport"), "\\u{feff}report");
  EXPECT_EQ(ForDisplay("invoice\u202etxt.exe"), "invoice\\u{202e}txt.exe");
  EXPECT_EQ(ForDisplay("\u2066x\u2069"), "\\u{2066}x\\u{2069}");
  EXPECT_EQ(ForDisplay("a\u2060b\u2064c"), "a\\u{2060}b\\u{2064}c");
  EXPECT_EQ(ForDisplay("\u200f\u2028"), "\\u{200f}\\u{2028}");
  EXPECT_FALSE(IsPlainDisplay("x\u202e"));
}

TEST(DisplayTextTest, InvalidUtf8IsEscapedByteByByte) {
  EXPECT_EQ(ForDisplay("a\xff"
                       "b"),
            "a\\x{ff}b");
  EXPECT_EQ(ForDisplay("\xc0\xaf"), "\\x{c0}\\x{af}");  // overlong '/'
  EXPECT_EQ(ForDisplay("\xed\xa0\x80"), "\\x{ed}\\x{a0}\\x{80}");  // a surrogate
  EXPECT_EQ(ForDisplay("\xe2\x80"), "\\x{e2}\\x{80}");  // truncated
  EXPECT_FALSE(IsPlainDisplay("\xff"));
}

}  // namespace
}  // namespace ferry
