// Directory trees up and down (put -r, get -r). Every name is checked before
// anything moves. Files of at most 1 MiB travel many to a message over one
// call (Files.PutFiles, Files.GetFiles), each still verified, written whole
// and fsynced; larger ones are ordinary resumable transfers. One bar follows
// the whole tree (TreeProgress).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/connection.h"
#include "client/file_client.h"
#include "core/status.h"

namespace ferry {

// One file of a tree and where it goes.
struct TreeFile {
  std::string local;
  std::string remote;
  int64_t size = 0;  // as listed; a file that grew past 1 MiB since is refused
};

// Moves `files` (whose destination directories exist): those of at most
// 1 MiB in batches, then the others one by one. The first failure stops it;
// the files moved before it stay. One bar, labelled `root`, follows them all
// when options.progress makes one.
Status UploadFiles(Connection& conn, const std::vector<TreeFile>& files,
                   const TransferOptions& options, const std::string& root);
Status DownloadFiles(Connection& conn, const std::vector<TreeFile>& files,
                     const TransferOptions& options, const std::string& root);

// A file (not a directory) is sent as UploadFile / DownloadFile would.
Status UploadTree(Connection& conn, const std::string& local, const std::string& remote,
                  const TransferOptions& options);
Status DownloadTree(Connection& conn, const std::string& remote, const std::string& local,
                    const TransferOptions& options);

}  // namespace ferry
