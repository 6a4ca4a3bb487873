// How `ferry shell` reads a line into words, and writes a name back so that it
// reads as one word: the one tokenizer that both running a line and
// completing it use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ferry {

// A line split into words: whitespace separates, quotes group ('...' keeps
// everything, "..." lets a backslash escape), a backslash outside quotes
// escapes the next character.
struct ShellLine {
  struct Word {
    std::string text;  // with quotes and escapes resolved
    size_t start = 0;  // byte offset in the line where the word's raw text begins
  };
  std::vector<Word> words;
  // True when the last word runs to the end of the line (no whitespace after it).
  bool ends_in_word = false;
  // The quote left open at the end of the line, or 0.
  char open_quote = 0;
};

// Never fails: an open quote or a trailing backslash is reported, not refused,
// since completion reads unfinished lines.
ShellLine TokenizeShellLine(std::string_view line);

// The words of a finished line; INVALID_ARGUMENT on an unterminated quote.
Result<std::vector<std::string>> SplitWords(const std::string& line);

// `word` written so that SplitWords reads it back as one word equal to it:
// whitespace, quotes and backslashes are escaped with a backslash.
std::string EscapeWord(std::string_view word);

}  // namespace ferry
