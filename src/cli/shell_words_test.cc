#include "cli/shell_words.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ShellWordsTest, SplitsOnWhitespaceWithQuotesAndEscapes) {
  auto w = SplitWords("get  'my file' \"a \\\"b\\\"\" c\\ d\te");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<std::string>{"get", "my file", "a \"b\"", "c d", "e"}));
}

TEST(ShellWordsTest, RefusesAnUnterminatedQuote) {
  auto w = SplitWords("get 'open");
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
}

TEST(ShellWordsTest, TokenizerReportsWhereTheLastWordStartsAndIfItIsOpen) {
  ShellLine line = TokenizeShellLine("get \"my fi");
  ASSERT_EQ(line.words.size(), 2u);
  EXPECT_EQ(line.words[1].text, "my fi");
  EXPECT_EQ(line.words[1].start, 4u);
  EXPECT_TRUE(line.ends_in_word);
  EXPECT_EQ(line.open_quote, '"');

  ShellLine spaced = TokenizeShellLine("cd ");
  EXPECT_FALSE(spaced.ends_in_word);
  ASSERT_EQ(spaced.words.size(), 1u);

  ShellLine escaped = TokenizeShellLine("ls a\\ b");
  ASSERT_EQ(escaped.words.size(), 2u);
  EXPECT_EQ(escaped.words[1].text, "a b");
  EXPECT_EQ(escaped.words[1].start, 3u);
}

TEST(ShellWordsTest, EscapedNamesReadBackAsOneWord) {
  for (std::string name : {"plain", "with space", "tab\there", "it's", "say \"hi\"", "back\\slash",
                           "", "trailing\\"}) {
    std::string line = "get " + EscapeWord(name);
    auto w = SplitWords(line);
    ASSERT_TRUE(w.ok()) << line;
    if (name.empty()) continue;  // an empty word is no word
    ASSERT_EQ(w->size(), 2u) << line;
    EXPECT_EQ((*w)[1], name) << line;
  }
  EXPECT_EQ(EscapeWord("a b"), "a\\ b");
}

}  // namespace
}  // namespace ferry
