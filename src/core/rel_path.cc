#include "core/rel_path.h"
#include "core/display_text.h"

#include <fmt/format.h>

namespace ferry {
namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not well formed.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  // Reject overlong encodings, surrogates and values past U+10FFFF.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

// True for U+0080..U+009F (C1 controls), encoded as C2 80..C2 9F.
bool IsC1Control(std::string_view s, size_t i) {
  return i + 1 < s.size() && static_cast<unsigned char>(s[i]) == 0xc2 &&
         static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9f;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

Status ValidateName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("empty file name");
  if (name == "." || name == "..") {
    return Status::InvalidArgument(fmt::format("'{}' is not allowed as a name", name));
  }
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument(
        fmt::format("name '{}...' is too long ({} bytes; the limit is {})",
                    ForDisplay(name.substr(0, 32)), name.size(), kMaxNameBytes));
  }
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == '/') return Status::InvalidArgument("a name cannot contain '/'");
    if (c == 0) return Status::InvalidArgument("name contains a NUL byte");
    if (c < 0x20 || c == 0x7f || IsC1Control(name, i)) {
      return Status::InvalidArgument(
          fmt::format("name '{}' contains a control character", ForDisplay(name)));
    }
    size_t len = Utf8SequenceLength(name, i);
    if (len == 0) {
      return Status::InvalidArgument(fmt::format(
          "name '{}' is not valid UTF-8 (ferry's names are UTF-8 text)", ForDisplay(name)));
    }
    i += len;
  }
  return Status::Ok();
}

Result<RelPath> RelPath::Parse(std::string_view raw) {
  if (raw.size() > kMaxPathBytes) {
    return Status::InvalidArgument(
        fmt::format("path is too long ({} bytes; the limit is {})", raw.size(), kMaxPathBytes));
  }
  if (raw.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("path contains a NUL byte");
  }
  if (!raw.empty() && raw.front() == '/') {
    return Status::InvalidArgument(fmt::format(
        "absolute path '{}' is not allowed: paths are relative to your home", ForDisplay(raw)));
  }
  RelPath path;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find('/', start);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view part = raw.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return Status::InvalidArgument(
          fmt::format("'..' is not allowed in paths ('{}')", ForDisplay(raw)));
    }
    FERRY_RETURN_IF_ERROR(ValidateName(part));
    if (path.parts_.size() == kMaxComponents) {
      return Status::InvalidArgument("path is nested too deeply");
    }
    path.parts_.emplace_back(part);
  }
  return path;
}

std::string RelPath::Relative() const {
  if (parts_.empty()) return ".";
  std::string out;
  for (const auto& p : parts_) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::string RelPath::Display() const {
  if (parts_.empty()) return "/";
  return "/" + Relative();
}

RelPath RelPath::Parent() const {
  RelPath p;
  p.parts_.assign(parts_.begin(), parts_.end() - 1);
  return p;
}

RelPath RelPath::Child(const std::string& name) const {
  RelPath p = *this;
  p.parts_.push_back(name);
  return p;
}

bool RelPath::IsWithin(const RelPath& other) const {
  if (other.parts_.size() > parts_.size()) return false;
  for (size_t i = 0; i < other.parts_.size(); ++i) {
    if (parts_[i] != other.parts_[i]) return false;
  }
  return true;
}

}  // namespace ferry
