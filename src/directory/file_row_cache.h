// Rows of PostgreSQL's files table by id, as indexed searches read them, so
// that a text searched again reads its matching rows from memory instead of
// probing the table for each of them.
//
// A row never changes under its id: a file announced again with other
// content gets a new id. A cached row is therefore right for as long as the
// row exists. A deleted one (through any instance; deletions are not
// announced) may still be offered as a match until it is `max_age` old, but
// never with a peer: a hit's peers are read from the table, and a hit left
// without any is dropped, and its rows forgotten here. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry {

struct FileRow {
  std::string name;
  int64_t size = 0;
  std::string sha256;
  std::string peer_id;
};
using SharedFileRow = std::shared_ptr<const FileRow>;

class FileRowCache {
 public:
  // Holds up to `max_rows` rows (0: none), each for up to `max_age`.
  FileRowCache(size_t max_rows, std::chrono::milliseconds max_age);

  // The cached row of each id (null where there is none, or it is too old
  // at `now`, a steady time in ms), under one lock.
  std::vector<SharedFileRow> Find(const std::vector<int64_t>& ids, int64_t now) const;
  // Keeps rows read at `now`.
  void Put(const std::vector<std::pair<int64_t, SharedFileRow>>& rows, int64_t now);
  void Forget(const std::vector<int64_t>& ids);
  // Entries held, at most max_rows (a row read again after it aged may be
  // held twice until the older half goes).
  size_t size() const;

 private:
  struct Entry {
    SharedFileRow row;
    int64_t read_at = 0;
  };
  const size_t half_;
  const int64_t max_age_ms_;
  mutable std::mutex mu_;
  // Rows go into `newer_`; when it holds half of max_rows, it becomes
  // `older_` and the older half is dropped: recently read rows stay, at a
  // bounded cost in memory, without bookkeeping on each lookup.
  std::unordered_map<int64_t, Entry> newer_;  // GUARDED_BY(mu_)
  std::unordered_map<int64_t, Entry> older_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
