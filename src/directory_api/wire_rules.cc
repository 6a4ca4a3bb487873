#include "directory_api/wire_rules.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/rel_path.h"
#include "core/sha256.h"

namespace ferry::dirapi {

namespace {

bool IsLowerHex(std::string_view s, size_t digits) {
  return s.size() == digits && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

bool IsPeerId(std::string_view id) { return IsLowerHex(id, kPeerIdHexDigits); }

Status ValidatePeerId(std::string_view id, std::string_view field) {
  if (IsPeerId(id)) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("'{}' must be {} lower-case hex digits", field, kPeerIdHexDigits));
}

bool IsTicket(std::string_view ticket) { return IsLowerHex(ticket, kTicketHexDigits); }

Status ValidateTicket(std::string_view ticket, std::string_view field) {
  if (IsTicket(ticket)) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("'{}' must be {} lower-case hex digits", field, kTicketHexDigits));
}

std::string LowerHex(std::string hex) {
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return hex;
}

Result<std::string> CanonicalSha256(std::string_view hex, std::string_view field) {
  if (!IsSha256Hex(hex)) {
    return Status::InvalidArgument(fmt::format("'{}' must be 64 hex digits", field));
  }
  return LowerHex(std::string(hex));
}

bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

Status ValidateFileName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSharedPathBytes) {
    return Status::InvalidArgument(
        fmt::format("a file name has 1 to {} bytes", kMaxSharedPathBytes));
  }
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a file name (one path component, not '.' or '..')", name));
  }
  if (HasControl(name)) {
    return Status::InvalidArgument("a file name may not contain control characters");
  }
  return Status::Ok();
}

Status ValidateSharedPath(std::string_view path) {
  if (path.empty() || path.size() > kMaxSharedPathBytes) {
    return Status::InvalidArgument(fmt::format("a path has 1 to {} bytes", kMaxSharedPathBytes));
  }
  if (path.front() == '/') return Status::InvalidArgument("a path must be relative");
  if (HasControl(path)) {
    return Status::InvalidArgument("a path may not contain control characters");
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument(
          fmt::format("the path '{}' has an empty, '.' or '..' component", path));
    }
    start = slash + 1;
  }
  return Status::Ok();
}

Status ValidateListSize(std::string_view field, size_t count) {
  if (count <= kMaxFilesPerAnnounce) return Status::Ok();
  return Status::InvalidArgument(fmt::format("'{}' has {} entries; at most {} are allowed", field,
                                             count, kMaxFilesPerAnnounce));
}

Status ValidateSearchText(std::string_view text) {
  if (text.empty() || text.size() > kMaxSearchTextBytes) {
    return Status::InvalidArgument(fmt::format("'q' must have 1 to {} bytes", kMaxSearchTextBytes));
  }
  if (HasControl(text)) return Status::InvalidArgument("'q' has a control character");
  if (!IsValidUtf8(text)) return Status::InvalidArgument("'q' is not valid UTF-8");
  return Status::Ok();
}

Status ValidateBearerToken(std::string_view token) {
  bool printable =
      std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (token.empty() || token.size() > kMaxTokenBytes || !printable) {
    return Status::InvalidArgument(fmt::format(
        "a token has 1 to {} printable ASCII characters without spaces", kMaxTokenBytes));
  }
  return Status::Ok();
}

Status ValidateLoginPassword(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return Status::InvalidArgument("the password is too long");
  }
  return Status::Ok();
}

}  // namespace ferry::dirapi
