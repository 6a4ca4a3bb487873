#include "cli/shell_words.h"

namespace ferry {

ShellLine TokenizeShellLine(std::string_view line) {
  ShellLine out;
  std::string cur;
  bool in_word = false;
  size_t start = 0;
  char quote = 0;
  auto begin_word = [&](size_t i) {
    if (!in_word) start = i;
    in_word = true;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        cur += line[++i];
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      begin_word(i);
      quote = c;
    } else if (c == '\\' && i + 1 < line.size()) {
      begin_word(i);
      cur += line[++i];
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.words.push_back({std::move(cur), start});
      cur.clear();
      in_word = false;
    } else {
      begin_word(i);
      cur += c;
    }
  }
  if (in_word) out.words.push_back({std::move(cur), start});
  out.ends_in_word = in_word;
  out.open_quote = quote;
  return out;
}

Result<std::vector<std::string>> SplitWords(const std::string& line) {
  ShellLine split = TokenizeShellLine(line);
  if (split.open_quote != 0) return Status::InvalidArgument("unterminated quote");
  std::vector<std::string> words;
  words.reserve(split.words.size());
  for (auto& w : split.words) words.push_back(std::move(w.text));
  return words;
}

std::string EscapeWord(std::string_view word) {
  std::string out;
  out.reserve(word.size());
  for (char c : word) {
    if (c == ' ' || c == '\t' || c == '\'' || c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace ferry
