#include "client/partial_mark.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include <fmt/format.h>

namespace ferry {
namespace {

constexpr std::string_view kMagic = "ferry partial 1";

// Paths may hold any byte but NUL in theory; keep each field on one line.
std::string EscapeField(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\0') {
      out += "\\0";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> UnescapeField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case '0':
        out += '\0';
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Reads the mark. nullopt if there is none, or one ferry did not write;
// `unsupported` tells the file system keeps no user attributes at all.
Result<std::optional<PartialMark>> ReadMark(int fd, bool* unsupported) {
  std::vector<char> buf(64 * 1024);  // XATTR_SIZE_MAX: no value is longer
  ssize_t n = ::fgetxattr(fd, kPartialMarkAttr, buf.data(), buf.size());
  if (n < 0) {
    if (errno == ENODATA || errno == ERANGE) return std::optional<PartialMark>();
    if (errno == ENOTSUP) {
      *unsupported = true;
      return std::optional<PartialMark>();
    }
    return ErrnoStatus(errno, "cannot read the mark of a partial download");
  }
  return DecodeMark(std::string_view(buf.data(), static_cast<size_t>(n)));
}

Status Refuse(const std::string& part, const std::optional<PartialMark>& found, bool unsupported) {
  if (found) {
    return Status::FailedPrecondition(fmt::format(
        "'{}' is ferry's partial download of '{}' from {}, not of this file; move it away (or "
        "use --force to replace it)",
        part, found->remote, found->server));
  }
  return Status::FailedPrecondition(fmt::format(
      "'{}' exists and was not made by ferry; move it away (or use --force to replace it){}", part,
      unsupported ? "; this file system keeps no extended attributes, which ferry needs to "
                    "recognise its own partial downloads"
                  : ""));
}

}  // namespace

std::string EncodeMark(const PartialMark& mark) {
  std::string out = fmt::format("{}\nserver {}\nremote {}\n", kMagic, EscapeField(mark.server),
                                EscapeField(mark.remote));
  if (mark.size >= 0) out += fmt::format("size {}\nmtime_ns {}\n", mark.size, mark.mtime_ns);
  return out;
}

std::optional<PartialMark> DecodeMark(std::string_view value) {
  std::vector<std::string_view> lines;
  while (!value.empty()) {
    size_t nl = value.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // every line ends in '\n'
    lines.push_back(value.substr(0, nl));
    value.remove_prefix(nl + 1);
  }
  if (lines.size() != 3 && lines.size() != 5) return std::nullopt;
  if (lines[0] != kMagic) return std::nullopt;
  auto field = [&](size_t i, std::string_view key) -> std::optional<std::string_view> {
    std::string_view line = lines[i];
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ') {
      return std::nullopt;
    }
    return line.substr(key.size() + 1);
  };
  PartialMark mark;
  auto server = field(1, "server");
  auto remote = field(2, "remote");
  if (!server || !remote) return std::nullopt;
  auto server_text = UnescapeField(*server);
  auto remote_text = UnescapeField(*remote);
  if (!server_text || !remote_text) return std::nullopt;
  mark.server = std::move(*server_text);
  mark.remote = std::move(*remote_text);
  if (lines.size() == 5) {
    auto size = field(3, "size");
    auto mtime = field(4, "mtime_ns");
    if (!size || !mtime) return std::nullopt;
    auto size_value = ParseInt(*size);
    auto mtime_value = ParseInt(*mtime);
    if (!size_value || *size_value < 0 || !mtime_value) return std::nullopt;
    mark.size = *size_value;
    mark.mtime_ns = *mtime_value;
  }
  return mark;
}

bool SameDownload(const PartialMark& found, const PartialMark& wanted) {
  return found.server == wanted.server && found.remote == wanted.remote;
}

bool SameVersion(const PartialMark& found, int64_t size, int64_t mtime_ns) {
  return found.size < 0 || (found.size == size && found.mtime_ns == mtime_ns);
}

Result<bool> WriteMark(int fd, const PartialMark& mark) {
  std::string value = EncodeMark(mark);
  if (::fsetxattr(fd, kPartialMarkAttr, value.data(), value.size(), 0) != 0) {
    if (errno == ENOTSUP) return false;
    return ErrnoStatus(errno, "cannot mark a partial download");
  }
  return true;
}

void RemoveMark(int fd) {
  // Best effort: ENODATA and ENOTSUP mean there is nothing to remove, and a
  // leftover mark names a remote path that no download of this name requests.
  (void)::fremovexattr(fd, kPartialMarkAttr);
}

Result<PartialFile> OpenPartial(const std::string& part, const PartialMark& wanted, bool replace) {
  bool replaced = false;
  // A few rounds: something in the way may vanish, or be removed with `replace`,
  // between one open and the next.
  for (int round = 0; round < 4; ++round) {
    // O_EXCL: a file this call creates is certainly ferry's; with O_NOFOLLOW a
    // planted symlink is never followed.
    UniqueFd fd(::open(part.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.valid()) {
      PartialFile out;
      out.mark = wanted;
      out.mark.size = -1;
      out.mark.mtime_ns = 0;
      auto marked = WriteMark(fd.get(), out.mark);
      if (!marked.ok()) {
        ::unlink(part.c_str());
        return marked.status();
      }
      out.fd = std::move(fd);
      out.marked = *marked;
      out.replaced = replaced;
      return out;
    }
    if (errno != EEXIST) return ErrnoStatus(errno, fmt::format("cannot create '{}'", part));

    // Something is there. O_NONBLOCK: a FIFO in its place must not hang the open.
    fd.Reset(::open(part.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid() && errno == ENOENT) continue;  // gone meanwhile
    std::optional<PartialMark> found;
    bool unsupported = false;
    struct stat st {};
    // Failing to open it for writing (a symlink, a directory, a read-only
    // file) or it not being a regular file means it is not ferry's.
    if (fd.valid() && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
      auto read = ReadMark(fd.get(), &unsupported);
      if (!read.ok()) return read.status();
      found = std::move(*read);
      if (found && SameDownload(*found, wanted)) {
        int flags = ::fcntl(fd.get(), F_GETFL);
        if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
        PartialFile out;
        out.fd = std::move(fd);
        out.length = st.st_size;
        out.mark = std::move(*found);
        out.marked = true;
        return out;
      }
    }
    if (!replace) return Refuse(part, found, unsupported);
    // Unlink rather than truncate: the name may be a hard link to data that
    // lives on elsewhere, and a symlink is removed, not its target.
    if (::unlink(part.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, fmt::format("cannot replace '{}'", part));
    }
    replaced = true;
  }
  return Status::Aborted(fmt::format("'{}' keeps changing; try again", part));
}

}  // namespace ferry
