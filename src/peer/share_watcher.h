// Watches a share folder for changes and tells its owner when to scan it.
//
// The watcher does not index anything itself. It says "the share changed and
// has been quiet for `settle`", and the owner runs ShareIndex::Scan over the
// whole share. A full scan per settled burst is cheap enough: a scan of an
// unchanged share lists the folders and stats the files, comparing path,
// size, mtime and inode with the index, and reads no byte of a file that did
// not change. It is also exact where events are not: events lost when the
// kernel's queue overflows, files created in a new folder before its watch
// exists, renames into and out of the share, are all found by the next scan.
//
// With inotify (the default): one watch per folder of the share, added for
// every folder created in or moved into it while it runs and dropped for
// every folder deleted or moved out. A file still being written keeps
// resetting the quiet timer (IN_MODIFY), so it is scanned, and announced,
// only after it stops changing; a share that never goes quiet (a log being
// appended to without pause) is scanned anyway after `max_delay`, and a file
// that changes while that scan hashes it is left out until it settles.
// Symlinks are not followed, other file systems mounted inside the share are
// not watched (the index does not enter them either), and events on the
// peer's own files (own_files.h) are not changes.
//
// Without inotify: when inotify cannot be used (inotify_init1 fails) or its
// watch limit is reached (ENOSPC from inotify_add_watch), the watcher logs one
// warning saying so and what to raise (fs.inotify.max_user_watches or
// max_user_instances) and falls back to a full rescan every
// `rescan_interval`.
//
// Thread safety: Start and Stop from the owner's thread; mode() and watches()
// from any thread. on_change runs on the watcher's own thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ferry {

struct ShareWatcherOptions {
  // How long the share must be quiet after a change before on_change runs.
  std::chrono::milliseconds settle{500};
  // The longest a change waits for quiet: past it on_change runs anyway.
  std::chrono::milliseconds max_delay{10'000};
  // Time between full rescans when the watcher has no inotify.
  std::chrono::milliseconds rescan_interval{60'000};
  // false: never use inotify, rescan every rescan_interval.
  bool use_inotify = true;
  // inotify_add_watch(2), replaceable so that a test can run out of watches.
  std::function<int(int fd, const char* path, uint32_t mask)> add_watch;
};

enum class WatchMode { kInotify, kPeriodic };

class ShareWatcher {
 public:
  // Called on the watcher's thread, one call at a time: once as soon as the
  // watcher starts (with every watch already in place, so nothing that
  // changes during that first scan is missed), then after each settled burst
  // of changes, or every rescan_interval without inotify. `stop` is requested
  // when the watcher stops; a scan passes it on so that it ends early.
  // Changes during a call are seen afterwards and lead to another call.
  using OnChange = std::function<void(std::stop_token stop)>;

  // Watches `share_dir` and starts the thread. NOT_FOUND if the folder
  // cannot be opened; that inotify is unusable is a warning, not an error.
  static Result<std::unique_ptr<ShareWatcher>> Start(const std::string& share_dir,
                                                     const ShareWatcherOptions& options,
                                                     OnChange on_change);
  ~ShareWatcher();  // Stop()
  ShareWatcher(const ShareWatcher&) = delete;
  ShareWatcher& operator=(const ShareWatcher&) = delete;

  // Requests stop (a running on_change sees its token requested), wakes the
  // thread and joins it. Idempotent. REQUIRES: not called from on_change.
  void Stop();

  WatchMode mode() const { return periodic_.load() ? WatchMode::kPeriodic : WatchMode::kInotify; }
  // Folders watched now (0 without inotify).
  size_t watches() const { return watch_count_.load(); }

 private:
  ShareWatcher(std::string root, dev_t device, const ShareWatcherOptions& options,
               OnChange on_change);

  void Run(std::stop_token stop);
  void RunInotify(const std::stop_token& stop);
  void RunPeriodic(const std::stop_token& stop);
  // Waits up to `timeout` (negative: forever) for the stop or inotify fd.
  // True if inotify has events to read.
  bool WaitForEvents(std::chrono::milliseconds timeout);
  // Reads what inotify has and reports whether any of it is a change.
  bool ReadEvents();
  // Adds watches for folder `rel` ("" for the root) and every folder beneath.
  // False when the watch limit is reached (the watcher then falls back).
  bool WatchTree(const std::string& rel);
  // Drops the watches of `rel` and every folder beneath it.
  void UnwatchTree(const std::string& rel);
  // Closes inotify and logs why the watcher rescans periodically from now on.
  void FallBack(const std::string& why);

  const std::string root_;  // absolute
  const dev_t device_;      // of the root: other file systems are not entered
  const ShareWatcherOptions options_;
  const OnChange on_change_;
  UniqueFd wake_;     // eventfd: written by Stop
  UniqueFd inotify_;  // invalid without inotify; used by the thread only
  // Watch descriptor -> folder relative to the root. Used by the thread only.
  std::unordered_map<int, std::string> dirs_;
  std::atomic<bool> periodic_{false};
  std::atomic<size_t> watch_count_{0};
  std::jthread thread_;
};

}  // namespace ferry
