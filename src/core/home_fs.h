// Filesystem operations confined beneath one root directory (a user's home).
//
// Every path is a validated RelPath, and every open goes through openat2(2)
// with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV: no symlink is
// ever followed and nothing outside the root can be reached, whatever the
// directory tree contains (a symlink planted by another program included).
// Final components are never followed either (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW).
//
// Thread safety: a HomeFs is immutable after Open and may be shared by threads.
// Serialising conflicting operations on one path is the caller's job (PathLocks).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/rel_path.h"
#include "core/status.h"
#include "core/unique_fd.h"

namespace ferry {

enum class FileType { kFile, kDirectory, kSymlink, kOther };

struct FileInfo {
  std::string name;
  FileType type = FileType::kOther;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0;  // permission bits
  uint64_t inode = 0;
};

// A file opened for reading, with what fstat said about it when opened.
struct OpenFile {
  UniqueFd fd;
  FileInfo info;
};

// A directory fd plus the name of an entry in it: the handle for *at() calls.
struct DirEntry {
  UniqueFd dir;
  std::string leaf;
};

class HomeFs {
 public:
  // Opens `root` (created with mode 0700 if missing when `create` is set).
  static Result<HomeFs> Open(const std::string& root, bool create);

  const std::string& root() const { return root_path_; }
  int root_fd() const { return root_.get(); }

  Result<FileInfo> Stat(const RelPath& path) const;
  // Entries sorted by name; "." and ".." are left out.
  Result<std::vector<FileInfo>> List(const RelPath& path) const;
  Status MakeDirectory(const RelPath& path, bool parents) const;
  // Creates an empty file; ALREADY_EXISTS if anything has that name.
  Status Touch(const RelPath& path) const;
  // Removes a file or an empty directory, or a whole tree when `recursive`.
  Status Remove(const RelPath& path, bool recursive) const;
  // Renames; without `overwrite` an existing destination gives ALREADY_EXISTS.
  // PERMISSION_DENIED if a symlink would point outside the home from its new
  // place, judged on the link's text alone: an absolute target, or ".." that
  // climb above the root. This covers the symlink moved itself and, when a
  // directory moves to a level no deeper than before, every symlink inside it.
  Status Rename(const RelPath& from, const RelPath& to, bool overwrite) const;
  // Opens a regular file for reading (FAILED_PRECONDITION for a directory).
  Result<OpenFile> OpenForRead(const RelPath& path) const;
  // Opens the directory holding `path` (which must not be the root).
  Result<DirEntry> OpenParent(const RelPath& path) const;
  // Opens a directory beneath the root.
  Result<UniqueFd> OpenDirectory(const RelPath& path) const;
  // Bytes (st_size) of the regular files and symlinks at or beneath `path`,
  // found by one walk that follows no symlink; entries that vanish during the
  // walk are skipped. FAILED_PRECONDITION past 512 levels of directories.
  Result<int64_t> DiskUsage(const RelPath& path) const;

 private:
  HomeFs(std::string root_path, UniqueFd root)
      : root_path_(std::move(root_path)), root_(std::move(root)) {}

  std::string root_path_;
  UniqueFd root_;
};

// openat2 beneath `dirfd` with symlinks refused; errors worded with `display`.
Result<UniqueFd> OpenBeneath(int dirfd, const std::string& relative, int flags, mode_t mode,
                             const std::string& display);

// Maps an errno from an operation on `display` to a Status a person understands;
// ENOSPC and EDQUOT give RESOURCE_EXHAUSTED "no space left on the server ...".
Status PathError(int err, const std::string& display);

// fsync on a directory, so a rename or create in it survives a crash.
Status SyncDirectory(int dirfd);

}  // namespace ferry
