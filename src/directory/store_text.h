// Text helpers both directory stores use, so they index and match names alike.
#pragma once

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

}  // namespace ferry
