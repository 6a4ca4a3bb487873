// A file's SHA-256, and the SHA-256 of each of its grid chunks
// (transfer_limits.h), remembered in extended attributes (user.ferry.sha256,
// user.ferry.chunks) together with the inode, size and mtime they were
// computed for. A download then need not read the file twice, and stat
// --sha256 answers at once. The cache is advisory: any change of inode, size
// or mtime invalidates it (an edit that restores both size and mtime in place,
// as `rsync --inplace -t` can, is not detected; the client's end-to-end check
// still catches the mismatch), and a file system without user xattrs (or with
// too little room for a large file's chunk list) simply never has an entry.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/home_fs.h"

namespace ferry {

// The cached hash of the open file `fd` whose fstat gave `info`, if still valid.
std::optional<std::string> CachedSha256(int fd, const FileInfo& info);
// Remembers `hex` for `fd` as described by `info` (best effort).
void StoreSha256(int fd, const FileInfo& info, const std::string& hex);

// The cached hex SHA-256s of every grid chunk of `fd` (ChunkCount(info.size)
// of them), if still valid.
std::optional<std::vector<std::string>> CachedChunkSha256s(int fd, const FileInfo& info);
// Remembers the hex SHA-256s of every grid chunk of `fd` (best effort;
// ignored unless there are exactly ChunkCount(info.size) valid hashes).
void StoreChunkSha256s(int fd, const FileInfo& info, const std::vector<std::string>& hexes);

// fstat of an open file in FileInfo form.
Result<FileInfo> StatFd(int fd);

}  // namespace ferry
