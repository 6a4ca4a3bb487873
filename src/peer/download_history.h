// Every download that ended (done, failed, cancelled), and every one that
// has not ended yet, kept in a small SQLite file in the peer's data folder
// so that both survive restarts: the history is shown again, and the
// unfinished downloads go on.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/sqlite.h"
#include "core/status.h"

namespace ferry {

struct HistorySource {
  std::string peer_id;
  std::string user;  // "" when the directory did not say
  std::string address;
  int64_t bytes = 0;  // verified bytes it delivered that were kept
};

struct HistoryEntry {
  std::string id;  // the download's id
  std::string sha256;
  std::string name;
  int64_t size = 0;
  std::string state;        // "done", "failed" or "cancelled"
  std::string error;        // why it failed; "" otherwise
  int64_t started_at = 0;   // Unix seconds
  int64_t finished_at = 0;  // Unix seconds
  double seconds = 0;       // time spent downloading (pauses excluded)
  double rate = 0;          // bytes fetched in this run over `seconds`
  std::string path;         // where the file is ("" unless done)
  std::vector<HistorySource> sources;
};

// A download that has not ended: what a restart needs to go on with it.
struct UnfinishedDownload {
  std::string id;
  std::string sha256;
  std::string name;
  int64_t size = 0;
  int64_t started_at = 0;  // Unix seconds
  bool paused = false;     // by the user: stays paused after a restart
};

// Thread-safe.
class DownloadHistory {
 public:
  // Opens (creating if missing) the history file at `path`.
  static Result<std::unique_ptr<DownloadHistory>> Open(const std::string& path);

  // Records `entry`; an entry with the same id replaces the older one.
  Status Add(const HistoryEntry& entry);
  // The newest `limit` entries, newest first.
  Result<std::vector<HistoryEntry>> Newest(int limit);
  // Entries kept.
  Result<int64_t> Count();

  // Records (or updates) a download that has not ended.
  Status SaveUnfinished(const UnfinishedDownload& d);
  // Forgets it (it ended, and is in the history).
  Status ForgetUnfinished(const std::string& id);
  // The downloads not ended, oldest first.
  Result<std::vector<UnfinishedDownload>> Unfinished();

  explicit DownloadHistory(Db db) : db_(std::move(db)) {}

 private:
  std::mutex mu_;
  Db db_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
