// Directory trees up and down (put -r, get -r). Every name is checked before
// anything moves. Files of at most 1 MiB travel many to a message over one
// call (Files.PutFiles, Files.GetFiles), each still verified, written whole
// and fsynced; larger ones are ordinary resumable transfers. One bar follows
// the whole tree (TreeProgress).
#pragma once

#include <string>

#include "client/connection.h"
#include "client/file_client.h"
#include "core/status.h"

namespace ferry {

// A file (not a directory) is sent as UploadFile / DownloadFile would.
Status UploadTree(Connection& conn, const std::string& local, const std::string& remote,
                  const TransferOptions& options);
Status DownloadTree(Connection& conn, const std::string& remote, const std::string& local,
                    const TransferOptions& options);

}  // namespace ferry
