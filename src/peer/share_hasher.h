// Hashing of shared files for the share index, on a pool of threads. The
// bytes are read and hashed by transfer's chunk source (ReadChunks), the one
// read-and-hash loop in ferry, so a file is hashed here exactly as a sender
// hashes its chunks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <vector>

#include "core/home_fs.h"
#include "core/rel_path.h"
#include "core/status.h"
#include "peer/shared_file.h"

namespace ferry {

struct HashedFile {
  SharedFile file;
  // CLOCK_REALTIME when the file was opened, in ns: with file.mtime_ns it
  // tells whether a later change could leave the same mtime.
  int64_t started_ns = 0;
};

// Hashes the regular file `path` beneath `share` (opened without following
// any symlink) in one pass: whole-file SHA-256, grid chunk SHA-256s and
// their chunk tree root, with size, mtime, inode and device from the fstat
// made when it was opened. Adds every byte hashed to `bytes_hashed`.
// Errors: NOT_FOUND if it is gone; FAILED_PRECONDITION if it is no longer a
// regular file; ABORTED if its size or mtime changed while it was hashed
// (the hashes are then of no version of the file: nothing is returned);
// CANCELLED once `stop` is requested; others for read errors.
Result<HashedFile> HashSharedFile(const HomeFs& share, const RelPath& path,
                                  const std::stop_token& stop, std::atomic<int64_t>& bytes_hashed);

// Hashes every file of `paths` with HashSharedFile on `threads` threads
// (at least 1) and calls `done(index into paths, result)` on the calling
// thread, one call at a time, as soon as each file is finished: in the order
// they finish, not the order given. Returns once every path had its call.
// After `stop` is requested, files not yet started finish with CANCELLED.
void HashInParallel(const HomeFs& share, const std::vector<RelPath>& paths, int threads,
                    const std::stop_token& stop, std::atomic<int64_t>& bytes_hashed,
                    const std::function<void(size_t, Result<HashedFile>)>& done);

}  // namespace ferry
