// A file's SHA-256, remembered in an extended attribute (user.ferry.sha256)
// together with the inode, size and mtime it was computed for. A download then need
// not read the file twice, and stat --sha256 answers at once. The cache is
// advisory: any change of inode, size or mtime invalidates it (an edit that
// restores both size and mtime in place, as `rsync --inplace -t` can, is not
// detected; the client's end-to-end check still catches the mismatch), and a file system
// without user xattrs simply never has an entry.
#pragma once

#include <optional>
#include <string>

#include "core/home_fs.h"

namespace ferry {

// The cached hash of the open file `fd` whose fstat gave `info`, if still valid.
std::optional<std::string> CachedSha256(int fd, const FileInfo& info);
// Remembers `hex` for `fd` as described by `info` (best effort).
void StoreSha256(int fd, const FileInfo& info, const std::string& hex);
// fstat of an open file in FileInfo form.
Result<FileInfo> StatFd(int fd);

}  // namespace ferry
