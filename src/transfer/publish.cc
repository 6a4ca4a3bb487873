#include "transfer/publish.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "core/secrets.h"
#include "transfer/file_io.h"

namespace ferry {
namespace {

Published Failed(int err, const std::string& what, bool moved) {
  return {ErrnoStatus(err, what), moved, err};
}

}  // namespace

Published Move(const PublishMove& move, const std::string& what) {
  unsigned flags = move.replace ? 0 : RENAME_NOREPLACE;
  if (::renameat2(move.from_dir, move.from.c_str(), move.to_dir, move.to.c_str(), flags) != 0) {
    return Failed(errno, what, false);
  }
  return {Status::Ok(), true, 0};
}

Published Publish(int fd, const PublishMove& move, const std::string& what) {
  if (::fsync(fd) != 0) return Failed(errno, what, false);
  Published moved = Move(move, what);
  if (!moved.moved) return moved;
  if (::fsync(move.to_dir) != 0) return Failed(errno, what, true);
  return {Status::Ok(), true, 0};
}

Result<PendingFile> PendingFile::Create(const std::string& path, unsigned mode) {
  const std::filesystem::path target(path);
  const std::string leaf = target.filename().string();
  const std::string parent = target.has_parent_path() ? target.parent_path().string() : ".";
  const std::string what = fmt::format("cannot write '{}'", path);
  UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, what);
  std::string temp = "." + leaf + ".tmp-" + RandomHex(4);
  UniqueFd fd(::openat(dir.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return ErrnoStatus(errno, what);
  return PendingFile(std::move(dir), std::move(fd), std::move(temp), leaf);
}

PendingFile::PendingFile(UniqueFd dir, UniqueFd fd, std::string temp, std::string leaf)
    : dir_(std::move(dir)), fd_(std::move(fd)), temp_(std::move(temp)), leaf_(std::move(leaf)) {}

PendingFile::~PendingFile() {
  if (dir_.valid() && !moved_) ::unlinkat(dir_.get(), temp_.c_str(), 0);
}

Published PendingFile::Commit(bool replace, const std::string& what, bool sync_directory) {
  const PublishMove move{dir_.get(), temp_, dir_.get(), leaf_, replace};
  Published published;
  if (sync_directory) {
    published = Publish(fd_.get(), move, what);
  } else {
    published = ::fsync(fd_.get()) == 0 ? Move(move, what) : Failed(errno, what, false);
  }
  moved_ = published.moved;
  return published;
}

Status PublishFile(const std::string& path, std::string_view contents, unsigned mode) {
  auto file = PendingFile::Create(path, mode);
  if (!file.ok()) return file.status();
  const std::string what = fmt::format("cannot write '{}'", path);
  FERRY_RETURN_IF_ERROR(WriteFullAt(file->fd(), contents.data(), contents.size(), 0, what));
  return file->Commit(true, what).status;
}

}  // namespace ferry
