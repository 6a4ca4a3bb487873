// `ferry sync`: makes a destination tree match a source tree, one side local
// and the other on the server, moving only what differs.
//
// A file is sent when the destination lacks it or when it differs: by size or
// modification time (both directions keep a file's mtime), or with `checksum`
// by SHA-256 (the server's hash cache makes its side cheap). Files move as a
// tree's do (client/tree_transfer.h): verified and atomic, the small ones in
// batches, the large ones resumable. A sync that is interrupted therefore goes
// on where it stopped when run again: the files it finished compare equal and
// the large one it was sending resumes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "client/connection.h"
#include "client/file_client.h"
#include "core/status.h"

namespace ferry {

struct SyncOptions {
  bool checksum = false;      // compare SHA-256 instead of size and mtime
  bool delete_extra = false;  // remove what the destination has and the source lacks
  bool dry_run = false;       // report what would be done; change nothing
  TransferOptions transfer;   // for each file sent; `overwrite` is implied
  // Told each action as a line ("send a/b.txt (new)", "delete c/"), done or,
  // in a dry run, planned. May be empty.
  std::function<void(const std::string&)> report;
};

struct SyncSummary {
  int64_t files_sent = 0;
  int64_t bytes_sent = 0;
  int64_t directories_made = 0;
  int64_t deleted = 0;
  int64_t unchanged = 0;  // files already equal
};

// Local tree `local` to remote directory `remote` (created if missing).
Result<SyncSummary> SyncUp(Connection& conn, const std::string& local, const std::string& remote,
                           const SyncOptions& options);
// Remote tree `remote` to local directory `local` (created if missing).
Result<SyncSummary> SyncDown(Connection& conn, const std::string& remote, const std::string& local,
                             const SyncOptions& options);

}  // namespace ferry
