// The share index's SQLite file: one row per indexed file (docs/protocol.md,
// "The peer's share index"). It is a cache of what hashing found: a file
// whose schema version is not this code's is emptied and rebuilt, never
// migrated.
//
// Thread safety: none; one thread at a time (ShareIndex serialises).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sqlite.h"
#include "core/status.h"
#include "peer/shared_file.h"

namespace ferry {

class ShareStore {
 public:
  struct Row {
    SharedFile file;
    // Hashed so soon after its last change that a later change could leave
    // the same mtime (ShareIndexOptions::racy_window_ns), or a stored row
    // that does not parse (its chunk list is then empty): either way the
    // next scan hashes it again.
    bool recheck = false;
  };

  // Opens or creates the file at `path`.
  static Result<ShareStore> Open(const std::string& path);

  ShareStore(ShareStore&&) = default;
  ShareStore& operator=(ShareStore&&) = default;

  // Every row, ordered by path, rows being checked again included.
  Result<std::vector<Row>> All();
  // One file with this whole-file SHA-256 (lower-case hex), the first by path.
  Result<std::optional<SharedFile>> FindBySha256(std::string_view sha256);
  // The number of rows.
  Result<int64_t> Count();
  // Inserts or replaces the row for file.path.
  Status Put(const SharedFile& file, bool recheck);
  // Removes the rows of `paths` in one transaction.
  Status Remove(const std::vector<std::string>& paths);

 private:
  explicit ShareStore(Db db) : db_(std::move(db)) {}
  Db db_;
};

}  // namespace ferry
