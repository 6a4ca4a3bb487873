#include "core/hash_cache.h"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/sha256.h"

namespace ferry {
namespace {

constexpr const char* kAttr = "user.ferry.sha256";

std::string Key(const FileInfo& info) {
  return fmt::format("{}:{}:{}:", info.inode, info.size, info.mtime_ns);
}

}  // namespace

std::optional<std::string> CachedSha256(int fd, const FileInfo& info) {
  char buf[160];
  ssize_t n = ::fgetxattr(fd, kAttr, buf, sizeof buf);
  if (n <= 0) return std::nullopt;
  std::string value(buf, static_cast<size_t>(n));
  std::string key = Key(info);
  if (value.compare(0, key.size(), key) != 0) return std::nullopt;
  std::string hex = value.substr(key.size());
  if (!IsSha256Hex(hex)) return std::nullopt;
  return hex;
}

void StoreSha256(int fd, const FileInfo& info, const std::string& hex) {
  std::string value = Key(info) + hex;
  (void)::fsetxattr(fd, kAttr, value.data(), value.size(), 0);
}

Result<FileInfo> StatFd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "fstat");
  FileInfo info;
  info.size = st.st_size;
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  info.mode = st.st_mode & 07777;
  info.inode = st.st_ino;
  return info;
}

}  // namespace ferry
