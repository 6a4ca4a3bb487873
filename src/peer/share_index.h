// The peer's share index: every regular file under the share folder,
// recursively, with its size, mtime, inode and device, the SHA-256 of the
// whole file, the SHA-256 of each grid chunk (transfer/transfer_limits.h)
// and their chunk tree root (transfer/chunk_tree.h), kept in a SQLite file
// (ShareStore) so that a restart hashes nothing that did not change.
//
// What is shared:
//   - regular files only; directories are descended into.
//   - no symlink is followed or indexed, whether it points inside the share
//     or out (a file reached through an inside link is indexed under its own
//     path anyway), and nothing on another file system (a mount point inside
//     the share is skipped): every open goes through HomeFs, beneath the
//     share, so no walk can leave the share or loop.
//   - the peer's own files (own_files.h: names starting ".ferry-") are left out.
//   - names RelPath refuses (not UTF-8, control characters, too long) and
//     trees deeper than kMaxComponents are left out: they could be neither
//     announced nor asked for.
//   - special files (FIFOs, sockets, devices) are left out.
//
// When a file counts as unchanged: its path, size, mtime (ns) and inode are
// those recorded. The device is recorded but not compared, since device
// numbers of some file systems (NFS, btrfs subvolumes, overlays) change on a
// remount while the files do not. A file found under a new path with the
// size, mtime, inode and device of a path that vanished in the same scan is a
// rename: its hashes are reused, not computed again.
//
// A file whose size or mtime changes while it is hashed is not recorded
// (ScanCallbacks::on_unsettled); the next scan tries again. A file hashed
// within racy_window_ns of its mtime is recorded, and hashed once more by the
// next scan: a write landing in the same timestamp tick would otherwise leave
// the recorded size and mtime looking current.
//
// Thread safety: all methods may be called from any thread. Scans run one at
// a time; lookups run while a scan is going on and see each file as soon as
// the scan has recorded it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/home_fs.h"
#include "core/status.h"
#include "peer/share_store.h"
#include "peer/shared_file.h"

namespace ferry {

struct ShareIndexOptions {
  // Threads that hash; 0: every CPU this process may use (UsableCpus).
  int hash_threads = 0;
  // A file hashed less than this long after its mtime is hashed again by
  // the next scan. Two seconds cover the coarsest common mtime (FAT's).
  int64_t racy_window_ns = 2'000'000'000;
};

// Called on the thread running Scan, one call at a time, while the scan goes
// on. Any may be empty.
struct ScanCallbacks {
  // A file now in the index (new, changed, renamed), as soon as it is.
  std::function<void(const SharedFile&)> on_indexed;
  // A file no longer in the index, with what was recorded for it: deleted,
  // renamed, no longer a regular file, or changed (then on_indexed or
  // on_unsettled follows for its path). A changed file is removed as soon as
  // the change is seen, before the new content is hashed.
  std::function<void(const SharedFile&)> on_removed;
  // A file not indexed this time because it changed while it was hashed
  // (still being written), or could not be read (`why` says which).
  std::function<void(const std::string& path, const Status& why)> on_unsettled;
};

struct ScanStats {
  int64_t files = 0;            // files in the index when the scan ended
  int64_t files_unchanged = 0;  // recorded and unchanged: not read
  int64_t files_hashed = 0;     // hashed and recorded
  int64_t files_renamed = 0;    // recorded under a new path with reused hashes
  int64_t files_removed = 0;    // on_removed calls
  int64_t files_unsettled = 0;  // on_unsettled calls
  int64_t entries_skipped = 0;  // symlinks, own files, special files, bad names
  int64_t bytes_hashed = 0;     // read and hashed by this scan
};

// What the scan running now has left to hash (all zero between scans).
struct IndexingProgress {
  bool running = false;       // a scan is walking or hashing the share
  int64_t files_pending = 0;  // planned for hashing and not yet done
  int64_t bytes_pending = 0;  // their bytes not yet hashed (an estimate)
  int64_t files_hashed = 0;   // by this scan so far
  int64_t bytes_hashed = 0;   // by this scan so far
};

class ShareIndex {
 public:
  // Opens the share folder `share_dir` and the index file `index_path`
  // (created if missing). INVALID_ARGUMENT if the index file would lie
  // inside the share (it would index itself); NOT_FOUND if the share is
  // missing.
  static Result<std::unique_ptr<ShareIndex>> Open(const std::string& share_dir,
                                                  const std::string& index_path,
                                                  const ShareIndexOptions& options = {});

  ShareIndex(const ShareIndex&) = delete;
  ShareIndex& operator=(const ShareIndex&) = delete;

  // Walks the whole share, hashes what is new or changed on the hash
  // threads, removes what is gone, and reports each change through
  // `callbacks` as it happens. Files that cannot be read are reported
  // unsettled, not errors. Errors: the share folder itself cannot be listed,
  // or the index file cannot be written (the scan stops). After `stop` is
  // requested the scan ends soon with CANCELLED; what it recorded stays.
  Result<ScanStats> Scan(const ScanCallbacks& callbacks = {}, std::stop_token stop = {});

  // Every indexed file, ordered by path.
  Result<std::vector<SharedFile>> Files();
  // How many files are indexed.
  Result<int64_t> Count();
  // An indexed file with this content (lower-case hex SHA-256), if any. Its
  // recorded size, mtime and inode say which version was hashed: a server
  // checks them against the open file before it sends a byte.
  Result<std::optional<SharedFile>> FindBySha256(std::string_view sha256);

  // Opens the file `file` records, beneath the share and without following
  // a link, if it is still the version that was hashed: same size, mtime and
  // inode. FAILED_PRECONDITION "'PATH' changed since it was hashed" when it
  // is not (the next Scan indexes it afresh); NOT_FOUND when it is gone.
  Result<OpenFile> OpenUnchanged(const SharedFile& file) const;
  // Whether `open` (from OpenUnchanged) still has the size and mtime of
  // `file`: checked again while it is being read.
  static bool StillUnchanged(const OpenFile& open, const SharedFile& file);

  // The scan running now, for a progress display; any thread.
  IndexingProgress Progress() const;

  // Bytes read and hashed by every scan since Open.
  int64_t bytes_hashed() const { return bytes_hashed_.load(); }
  const std::string& share_dir() const { return share_.root(); }

 private:
  ShareIndex(HomeFs share, ShareStore store, const ShareIndexOptions& options);

  HomeFs share_;
  const ShareIndexOptions options_;
  std::atomic<int64_t> bytes_hashed_{0};
  // The running scan's progress, as Progress() reports it.
  std::atomic<bool> scanning_{false};
  std::atomic<int64_t> scan_bytes_before_{0};
  std::atomic<int64_t> scan_files_planned_{0};
  std::atomic<int64_t> scan_bytes_planned_{0};
  std::atomic<int64_t> scan_files_done_{0};
  std::mutex scan_mu_;   // held for a whole Scan: one at a time
  std::mutex store_mu_;  // guards store_
  ShareStore store_;     // GUARDED_BY(store_mu_)
};

}  // namespace ferry
