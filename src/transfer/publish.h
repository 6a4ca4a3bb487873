// The last step of every transfer and every job output: where a finished file
// is published under its final name. The file is written under a temporary
// name, then Publish makes its bytes durable, renames it into place and makes
// the rename durable, so after a crash the final name shows either nothing
// (or the file it replaced) or the whole file.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ferry {

// Entry `from` of directory `from_dir` becomes entry `to` of `to_dir`.
struct PublishMove {
  int from_dir = -1;
  std::string from;
  int to_dir = -1;
  std::string to;
  bool replace = false;  // false: RENAME_NOREPLACE, an existing `to` is an error
};

struct Published {
  Status status;
  // The file has its new name; a failure then is the directory's fsync.
  bool moved = false;
  // The errno behind a failure, for callers that word it themselves.
  int error = 0;
  bool ok() const { return status.ok(); }
};

// Moves an entry whose contents are already durable (a tree synced once by
// its caller, say): renameat2 with RENAME_NOREPLACE unless move.replace, and
// no fsync. The caller fsyncs each directory it moved entries into once it
// is done, as Publish does for its one. Errors as Publish's.
Published Move(const PublishMove& move, const std::string& what);

// Publishes the finished file open as `fd`: fsync(fd), renameat2 (with
// RENAME_NOREPLACE unless move.replace), then fsync(move.to_dir). Errors:
// ALREADY_EXISTS if `to` exists and !replace; otherwise the errno's status,
// worded "<what>: <strerror>". Before the rename nothing has changed.
Published Publish(int fd, const PublishMove& move, const std::string& what);

// A new file being written under a hidden temporary name beside `path`, to
// appear under `path` only whole, through Publish. The temporary file is
// removed unless Commit moved it. Move-only.
class PendingFile {
 public:
  // Creates the temporary file with `mode`. Errors name `path`.
  static Result<PendingFile> Create(const std::string& path, unsigned mode);

  PendingFile(PendingFile&&) = default;
  PendingFile& operator=(PendingFile&&) = delete;
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile();

  // Where to write the contents.
  int fd() const { return fd_.get(); }
  // Publishes the file under `path`, replacing what is there or not
  // (ALREADY_EXISTS, with error EEXIST). Errors are worded `what`. With
  // `sync_directory` false the directory is not fsynced: a caller placing
  // many files fsyncs it once (dir_fd()) after the last.
  Published Commit(bool replace, const std::string& what, bool sync_directory = true);
  // The directory the file is published in.
  int dir_fd() const { return dir_.get(); }

 private:
  PendingFile(UniqueFd dir, UniqueFd fd, std::string temp, std::string leaf);

  UniqueFd dir_;
  UniqueFd fd_;
  std::string temp_;
  std::string leaf_;
  bool moved_ = false;
};

// Writes `contents` as the whole file `path` with `mode` through a
// PendingFile, replacing what was there: for small files such as keys,
// certificates and pinning lists. Errors name `path`.
Status PublishFile(const std::string& path, std::string_view contents, unsigned mode);

}  // namespace ferry
