// Transfers through a pipe: `ferry put - REMOTE` from standard input and
// `ferry get REMOTE -` to standard output. Both stream in 1 MiB chunks
// (constant memory) and check the whole file's SHA-256, as file transfers do;
// neither resumes, since a pipe cannot be read again.
#pragma once

#include <string>

#include "client/connection.h"
#include "client/file_client.h"
#include "core/status.h"

namespace ferry {

// Uploads everything read from `fd` until its end to `remote`, announcing an
// unknown size (docs/protocol.md): the server checks the quota and the free
// space as bytes arrive and publishes the file only once the SHA-256 of all
// that was sent matches. On any failure nothing is stored. options.overwrite
// replaces an existing file; options.progress gets a negative total.
Status UploadStream(Connection& conn, int fd, const std::string& remote,
                    const TransferOptions& options);

// Writes `remote` to `fd` as it arrives and checks the SHA-256 at the end;
// DATA_LOSS if it does not match or the stream ended early (the bytes are
// written already: the caller cannot take them back). When the reader of
// `fd` goes away, returns IsReaderGone's status (transfer/file_io.h).
Status DownloadStream(Connection& conn, const std::string& remote, int fd,
                      const TransferOptions& options);

}  // namespace ferry
