// The peer's downloads: started, paused, resumed and cancelled from the web
// UI's API, each run by the downloader (downloader.h) on a thread of its own,
// a few at a time, the rest queued. It keeps what each download looks like
// now (progress, rate, its peers) for the UI, tells a listener of every
// change, records every download that ends in the history, and takes up
// after a restart the downloads that had not ended.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "peer/download_history.h"
#include "peer/downloader.h"
#include "peer/shared_directory_client.h"

namespace ferry {

enum class DownloadState { kQueued, kRunning, kPaused, kDone, kFailed, kCancelled };
// "queued", "running", ...
std::string_view DownloadStateName(DownloadState state);

struct DownloadPeerView {
  std::string peer_id;
  std::string user;  // "" when the directory did not say
  std::string address;
  std::string state;  // "active", "dropped" (bad data) or "lost" (error, stall)
  std::string why;
  int64_t bytes = 0;
  double rate = 0;
};

struct DownloadView {
  std::string id;  // 16 hex digits
  std::string sha256;
  std::string name;
  int64_t size = 0;  // 0 until the sources are known
  int64_t done_bytes = 0;
  double rate = 0;
  std::optional<int64_t> eta_seconds;
  DownloadState state = DownloadState::kQueued;
  std::string error;
  int64_t started_at = 0;   // Unix seconds
  int64_t finished_at = 0;  // Unix seconds; 0 until it ends
  std::string path;         // the finished file
  std::vector<DownloadPeerView> peers;
};

struct DownloadManagerOptions {
  std::string downloads_dir;  // must exist
  int max_running = 3;        // downloads run at once; the rest wait queued
  DownloadOptions download;
  // Pause and Cancel wait this long for a running download to stop, so
  // that their answer shows it stopped.
  std::chrono::milliseconds stop_wait{std::chrono::seconds(5)};
};

struct DownloadTotals {
  std::map<DownloadState, int64_t> by_state;  // this run's downloads
  int64_t bytes_fetched = 0;                  // verified bytes fetched this run
  int64_t chunks_rejected = 0;                // chunks that failed their hash
  int64_t peers_dropped = 0;                  // peers dropped for bad data
};

class DownloadManager {
 public:
  struct Listener {
    // A download's progress or state changed (from any thread; must not block).
    std::function<void(const DownloadView&)> changed;
    // A download ended and was recorded.
    std::function<void(const HistoryEntry&)> ended;
  };
  // `session` checks a content before a download starts; each download runs
  // on a client of its own from session->connect(). `session` and `history`
  // outlive the manager.
  DownloadManager(SharedDirectoryClient* session, DownloadHistory* history,
                  DownloadManagerOptions options, Listener listener);
  // Stops every download (keeping what each verified) and waits for them.
  ~DownloadManager();
  DownloadManager(const DownloadManager&) = delete;
  DownloadManager& operator=(const DownloadManager&) = delete;

  // Takes up the downloads that had not ended when the peer last stopped
  // (from the history file): queued again, or paused if the user paused them.
  // Call once, before Start.
  Status Restore();

  // Starts downloading content `sha256` as `name` ("": the name the
  // directory knows it by). INVALID_ARGUMENT for a bad hash or name;
  // NOT_FOUND "no peer online has this file"; ALREADY_EXISTS when it is
  // being downloaded already or `name` exists in the downloads folder;
  // UNAVAILABLE when the directory cannot be asked.
  Result<DownloadView> Start(const std::string& sha256, const std::string& name);
  // NOT_FOUND for an unknown id; FAILED_PRECONDITION when the download is
  // in a state the action does not apply to (pausing a finished one).
  Result<DownloadView> Pause(const std::string& id);
  Result<DownloadView> Resume(const std::string& id);  // a paused or failed one
  Result<DownloadView> Cancel(const std::string& id);  // deletes its partial file

  // This run's downloads, newest first (of those that ended, the newest 500;
  // the history has every one).
  std::vector<DownloadView> List() const;
  DownloadTotals Totals() const;

 private:
  enum class StopReason { kNone, kPause, kCancel, kShutdown };
  struct Job;
  // REQUIRES: mu_ held. Starts queued jobs while fewer than max_running run.
  void ScheduleLocked();
  void Run(const std::shared_ptr<Job>& job, std::stop_token stop);
  void Observe(Job& job, const DownloadProgress& progress);
  void Finish(const std::shared_ptr<Job>& job, Result<DownloadResult> result);
  std::shared_ptr<Job> Find(const std::string& id) const;  // REQUIRES: mu_ held
  // REQUIRES: mu_ held via `lock`. Stops a running job for `why` and waits
  // for it to end (up to stop_wait).
  void StopLocked(std::unique_lock<std::mutex>& lock, Job& job, StopReason why);
  DownloadView ViewLocked(const Job& job, std::chrono::steady_clock::time_point now) const;
  void RecordLocked(Job& job);  // REQUIRES: mu_ held
  // REQUIRES: mu_ held. Keeps the job as unfinished across a restart.
  void SaveUnfinishedLocked(const Job& job);
  // REQUIRES: mu_ held. The listener hears of `job` soon, on the notifier.
  void ChangedLocked(const Job& job);
  // Tells the listener, from one thread and in order, of the jobs changed
  // since it last did (each once, as it is then) and of the ends recorded.
  void Notify();

  SharedDirectoryClient* session_;
  DownloadHistory* history_;
  const DownloadManagerOptions options_;
  const Listener listener_;

  mutable std::mutex mu_;
  std::condition_variable ended_;            // a run ended
  std::vector<std::shared_ptr<Job>> jobs_;   // oldest first; GUARDED_BY(mu_)
  int running_ = 0;                          // GUARDED_BY(mu_)
  int threads_ = 0;                          // runs not yet returned; GUARDED_BY(mu_)
  bool shutting_down_ = false;               // GUARDED_BY(mu_)
  DownloadTotals totals_;                    // GUARDED_BY(mu_), by_state unused
  std::condition_variable notify_;           // something for the notifier
  std::vector<std::string> changed_;         // job ids; GUARDED_BY(mu_)
  std::vector<HistoryEntry> ended_entries_;  // GUARDED_BY(mu_)
  bool notifier_stop_ = false;               // GUARDED_BY(mu_)
  std::thread notifier_;                     // last: started once all else is
};

}  // namespace ferry
