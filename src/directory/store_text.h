// Text helpers both directory stores use, so they index and match names alike.
#pragma once

#include <algorithm>
#include <string>

namespace ferry {

// The name a file is searched by: the last component of its path.
inline std::string FileNameOf(const std::string& path) {
  return path.substr(path.rfind('/') + 1);  // npos + 1 == 0: the whole path
}

// A LIKE pattern matching `text` anywhere, so '%', '_' and backslash in a query
// are literal. Backslash is the escape character: LIKE's default in PostgreSQL;
// SQLite needs ESCAPE '\'.
inline std::string LikeContains(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

inline bool IsAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// ASCII letters lower-cased, every other byte kept. For an ASCII text this is
// what both databases' folding does (FTS5's, and lower() under any collation
// but a Turkish one).
inline std::string FoldAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace ferry
