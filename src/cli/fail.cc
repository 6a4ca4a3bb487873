#include "cli/fail.h"

#include <iostream>
#include <string>
#include <string_view>

#include "core/display_text.h"

namespace ferry {

int Fail(const Status& s) {
  // Messages carry the server's words and names from it: escape what could
  // drive the terminal or hide and reorder text (ForDisplay). Line breaks
  // stay, line by line, for ferry's own multi-line messages (the
  // changed-certificate warning); FromGrpc already escaped any in the
  // server's text.
  std::string text = s.ToString();
  std::string out;
  for (size_t start = 0;;) {
    size_t nl = text.find('\n', start);
    out += ForDisplay(std::string_view(text).substr(start, nl - start));
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  std::cerr << "ferry: " << out << std::endl;
  return 1;
}

}  // namespace ferry
