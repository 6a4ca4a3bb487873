#include "transfer/hash_cache.h"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/sha256.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

constexpr const char* kAttr = "user.ferry.sha256";
// Value: the identity key, then 32 raw bytes per grid chunk.
constexpr const char* kChunksAttr = "user.ferry.chunks";
constexpr size_t kDigestBytes = 32;

std::string Key(const FileInfo& info) {
  return fmt::format("{}:{}:{}:", info.inode, info.size, info.mtime_ns);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends the 32 bytes a valid hex SHA-256 stands for.
void AppendDigest(const std::string& hex, std::string& out) {
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(HexDigit(hex[i]) << 4 | HexDigit(hex[i + 1])));
  }
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

std::optional<std::vector<std::string>> CachedChunkSha256s(int fd, const FileInfo& info) {
  std::string key = Key(info);
  size_t count = static_cast<size_t>(ChunkCount(info.size));
  std::string value(key.size() + count * kDigestBytes, '\0');
  ssize_t n = ::fgetxattr(fd, kChunksAttr, value.data(), value.size());
  if (n != static_cast<ssize_t>(value.size()) || value.compare(0, key.size(), key) != 0) {
    return std::nullopt;
  }
  std::vector<std::string> hexes;
  hexes.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    hexes.push_back(
        ToHex(reinterpret_cast<const uint8_t*>(value.data() + key.size() + i * kDigestBytes),
              kDigestBytes));
  }
  return hexes;
}

void StoreChunkSha256s(int fd, const FileInfo& info, const std::vector<std::string>& hexes) {
  if (hexes.size() != static_cast<size_t>(ChunkCount(info.size))) return;
  std::string value = Key(info);
  value.reserve(value.size() + hexes.size() * kDigestBytes);
  for (const auto& hex : hexes) {
    if (!IsSha256Hex(hex)) return;
    AppendDigest(hex, value);
  }
  (void)::fsetxattr(fd, kChunksAttr, value.data(), value.size(), 0);
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
