#include "transfer/publish.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "core/secrets.h"
#include "core/unique_fd.h"
#include "transfer/file_io.h"

namespace ferry {
namespace {

Published Failed(int err, const std::string& what, bool moved) {
  return {ErrnoStatus(err, what), moved, err};
}

}  // namespace

Published Publish(int fd, const PublishMove& move, const std::string& what) {
  if (::fsync(fd) != 0) return Failed(errno, what, false);
  unsigned flags = move.replace ? 0 : RENAME_NOREPLACE;
  if (::renameat2(move.from_dir, move.from.c_str(), move.to_dir, move.to.c_str(), flags) != 0) {
    return Failed(errno, what, false);
  }
  if (::fsync(move.to_dir) != 0) return Failed(errno, what, true);
  return {Status::Ok(), true, 0};
}

Status PublishFile(const std::string& path, std::string_view contents, unsigned mode) {
  const std::filesystem::path target(path);
  const std::string leaf = target.filename().string();
  const std::string parent = target.has_parent_path() ? target.parent_path().string() : ".";
  const std::string what = fmt::format("cannot write '{}'", path);
  UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, what);
  const std::string tmp = "." + leaf + ".tmp-" + RandomHex(4);
  UniqueFd fd(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return ErrnoStatus(errno, what);
  Status written = WriteFullAt(fd.get(), contents.data(), contents.size(), 0, what);
  Published published = written.ok() ? Publish(fd.get(), {dir.get(), tmp, dir.get(), leaf, true}, what)
                                     : Published{written, false, 0};
  if (!published.moved) ::unlinkat(dir.get(), tmp.c_str(), 0);
  return published.status;
}

}  // namespace ferry
