#include "core/display_text.h"

#include <cstdint>

#include <fmt/format.h>

namespace ferry {
namespace {

// The code point of the UTF-8 sequence at s[i] and its length; a length of 0
// when the sequence is not well formed (overlong, surrogate, past U+10FFFF,
// truncated).
struct Decoded {
  uint32_t cp = 0;
  size_t len = 0;
};

Decoded DecodeAt(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > s.size()) return {};
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return {};
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
  return {cp, len};
}

bool MustEscape(uint32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
         cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

}  // namespace

std::string ForDisplay(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    Decoded d = DecodeAt(text, i);
    if (d.len == 0) {
      out += fmt::format("\\x{{{:02x}}}", static_cast<unsigned char>(text[i]));
      i += 1;
    } else if (MustEscape(d.cp)) {
      out += d.cp < 0x80 ? fmt::format("\\x{{{:02x}}}", d.cp) : fmt::format("\\u{{{:x}}}", d.cp);
      i += d.len;
    } else {
      out.append(text.substr(i, d.len));
      i += d.len;
    }
  }
  return out;
}

bool IsPlainDisplay(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    Decoded d = DecodeAt(text, i);
    if (d.len == 0 || MustEscape(d.cp)) return false;
    i += d.len;
  }
  return true;
}

}  // namespace ferry
