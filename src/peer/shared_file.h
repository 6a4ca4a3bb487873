// What the share index knows about one shared file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry {

struct SharedFile {
  // Relative to the share folder, '/'-separated, as RelPath::Relative gives it.
  std::string path;
  // fstat of the file when it was hashed: the key that says it is unchanged.
  int64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  // Lower-case hex SHA-256 of the whole file.
  std::string sha256;
  // Lower-case hex SHA-256 of each grid chunk (transfer/transfer_limits.h):
  // exactly ChunkCount(size) of them, in order.
  std::vector<std::string> chunk_sha256s;
  // transfer/chunk_tree.h's root over chunk_sha256s, lower-case hex.
  std::string chunk_root;
  // When its content was read and hashed, Unix seconds (a rename keeps it).
  // For display only: not part of what makes two records the same version.
  int64_t hashed_at = 0;

  // The same path, version and hashes (hashed_at aside).
  bool operator==(const SharedFile& o) const {
    return path == o.path && size == o.size && mtime_ns == o.mtime_ns && inode == o.inode &&
           device == o.device && sha256 == o.sha256 && chunk_sha256s == o.chunk_sha256s &&
           chunk_root == o.chunk_root;
  }
};

}  // namespace ferry
