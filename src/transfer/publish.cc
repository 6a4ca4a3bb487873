#include "transfer/publish.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace ferry
