// ZIP archives for ferry's background jobs: creating one from files beneath a
// user's home, and unpacking an untrusted one into a staging directory.
//
// Both directions stream: file data is never held whole in memory, and all file
// access goes through openat2-confined fds (HomeFs, OpenBeneath), never through
// absolute path strings. The archive format is the standard one (PKWARE APPNOTE):
// deflate or stored entries, unix permission bits in the external attributes,
// modification times in the DOS fields plus the "UT" extra field, ZIP64 where
// sizes need it. Written archives pass `unzip -t`.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace ferry {
class HomeFs;
class RelPath;
}  // namespace ferry

namespace ferry::jobs {

class JobControl;

struct ZipOptions {
  // Compression threads, besides the calling thread (which mostly hands the
  // compressed data to libzip); 0 means one per hardware thread.
  int threads = 0;
  // Deflate level, 0 (store inside deflate blocks) to 9.
  int level = 6;
};

// Writes a ZIP of `paths` (regular files, or directories taken recursively), all
// beneath `home`, into `out_fd`: an empty regular file opened O_RDWR, which the
// caller created as a temporary file and will fsync and rename. `out_fd` is
// borrowed; its file offset is left unspecified.
//
// Entry names are relative to each path's parent, like running `zip -r` from
// there: zipping "docs/a.txt" and "photos" gives "a.txt", "photos/",
// "photos/x.jpg", ... Directory contents are stored sorted by name, each
// directory before its contents; empty directories are kept as "dir/" entries.
// Symlinks and special files found while walking are skipped (never followed),
// and so is the output file itself should it lie inside a zipped directory.
//
// A file is stored with the size the walk found: if it grows meanwhile, only
// that many bytes are taken; if it shrinks, the job fails (ABORTED).
//
// Progress: SetTotal(sum of the file sizes), then Advance(bytes) as file data
// is written. Between chunks the job's stop flag is checked.
//
// Errors: INVALID_ARGUMENT for no paths, the home root itself, a bad level, or
// two paths giving the same entry name; FAILED_PRECONDITION when a named path is
// a symlink or special file, or a name found while walking cannot be stored
// (not UTF-8, control characters); NOT_FOUND / PERMISSION_DENIED as HomeFs
// words them; ABORTED when a file shrank while being read; CANCELLED on a stop
// request. On error `out_fd` holds no valid archive and the caller deletes it.
//
// Thread safety: runs on the calling thread plus `options.threads` helper
// threads that it joins before returning.
Status WriteZip(const HomeFs& home, const std::vector<RelPath>& paths, int out_fd,
                JobControl& control, const ZipOptions& options = {});

struct UnzipLimits {
  // Sum of the uncompressed sizes that the entries declare.
  uint64_t max_total_bytes = 64ull << 30;
  uint64_t max_entries = 200000;
  // The sum of the declared sizes may be at most this many times the
  // archive's size. Deflate cannot expand more than ~1032:1, so 1000:1 is
  // about the most any honest archive reaches; 0: no limit.
  uint64_t max_ratio = 1000;
  // The job's output budget (e.g. what is left of the user's quota); 0: none.
  uint64_t max_output_bytes = 0;
  // Whether the declared output must fit in the free space of the file system
  // holding the destination (statvfs, space available to unprivileged users).
  bool check_free_space = true;
};

// Extracts the ZIP read from `archive_fd` into `dest_dir_fd`, an empty directory
// the caller made (a staging directory; the caller moves the result into place,
// or deletes it after an error). Both fds are borrowed; the file offset of
// `archive_fd` is moved (it is read through a dup).
//
// Every entry is checked before anything is written, so an unsafe archive fails
// with a message naming the entry and leaves `dest_dir_fd` empty. Refused with
// INVALID_ARGUMENT: a file that is not a ZIP ("not a ZIP archive"); names that
// are not clean relative paths (ferry's RelPath rules: no absolute paths, no
// "..", no control characters, valid UTF-8, length limits), names with
// backslashes, duplicate names (a file and a directory of the same name
// included) and entries beneath a file or symlink entry; encrypted entries;
// compression methods other than stored and deflate; more entries or more
// declared bytes than `limits` allow; symlink entries whose target is absolute
// or has a ".." component (such a link could point outside the user's home
// once moved). FAILED_PRECONDITION: entries whose local header and data share
// bytes of the archive with another entry's (jobs/zip_layout.h).
// RESOURCE_EXHAUSTED: the declared sizes add up to more than `max_ratio` times
// the archive's size (unless 1 MiB or less), more than `max_output_bytes`, or
// more than the destination file system has free.
//
// Entries are created only relative to `dest_dir_fd` (openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, mkdirat, O_CREAT | O_EXCL, symlinkat);
// symlinks in the tree are never followed. Unix permission bits are restored
// without setuid/setgid/sticky and without group/other write; modification
// times are restored for files and directories.
//
// DATA_LOSS when entry data is corrupt: a CRC mismatch, invalid deflate data,
// or more (or less) data than the entry declares, which is checked as the data
// is produced so a lying entry cannot fill the disk.
//
// The archive is opened with ZIP_CHECKCONS; when libzip finds local headers
// that disagree with the central directory (as in Info-ZIP's output written to
// a pipe) it is read without, since nothing here trusts the local headers.
//
// Progress: SetTotal(sum of declared uncompressed sizes), then Advance(bytes)
// per chunk written; CANCELLED on a stop request. After an error the entries
// completed before it stay in `dest_dir_fd`; the file being written is removed.
Status ExtractZip(int archive_fd, int dest_dir_fd, JobControl& control,
                  const UnzipLimits& limits = {});

}  // namespace ferry::jobs
