// File operations on a connected server, each returning a Status a person can
// read. Transfers stream in bounded chunks, verify SHA-256 end to end, are
// atomic on the receiving side and resume where an interrupted attempt stopped.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "client/connection.h"
#include "core/status.h"

namespace ferry {

// Makes a progress display for one transfer (label, total bytes), or null.
class Progress;
using ProgressFactory = std::function<std::unique_ptr<Progress>(const std::string&, int64_t)>;

struct TransferOptions {
  bool overwrite = false;
  ProgressFactory progress;            // may be empty
  int64_t limit_bytes_per_second = 0;  // 0: as fast as possible
  // Told about things a person may want to know ("resuming at ..."); may be empty.
  std::function<void(const std::string&)> notify;
  // Downloads: ask the server for the SHA-256 of each 1 MiB chunk and check
  // every chunk as it arrives (the whole file's hash is checked either way).
  bool verify_chunks = false;
};

Result<std::vector<v1::FileEntry>> ListRemote(Connection& conn, const std::string& path);
// What a path with wildcards matches (core/home_glob.h has the rules), sorted;
// each entry's name is its whole path from the home.
Result<std::vector<v1::FileEntry>> GlobRemote(Connection& conn, const std::string& pattern);
Result<v1::StatResponse> StatRemote(Connection& conn, const std::string& path, bool sha256);
Status MakeRemoteDirectory(Connection& conn, const std::string& path, bool parents);
Status TouchRemote(Connection& conn, const std::string& path);
Status RemoveRemote(Connection& conn, const std::string& path, bool recursive);
Status RenameRemote(Connection& conn, const std::string& from, const std::string& to,
                    bool overwrite);
Result<v1::HeadResponse> HeadRemote(Connection& conn, const std::string& path, int64_t length);

// Uploads one local file to `remote` (a file path). Resumes a partial upload of
// the same local file; the remote file appears only once complete and verified.
Status UploadFile(Connection& conn, const std::string& local, const std::string& remote,
                  const TransferOptions& options);
// Downloads `remote` to `local` through `local`.part, which survives an
// interruption so the next attempt resumes; `local` appears only once verified.
// Only a .part that ferry marked as this download's (client/partial_mark.h) is
// resumed; another file of that name is refused unless options.overwrite.
Status DownloadFile(Connection& conn, const std::string& remote, const std::string& local,
                    const TransferOptions& options);
// Ends an Upload call once its messages are sent: after a local failure
// `sent` the call is cancelled (unless the server already ended it) and
// `sent` returned; otherwise the server's answer, then `sent`, decides.
Status FinishUpload(grpc::ClientContext& ctx, grpc::ClientWriter<v1::UploadChunk>& writer,
                    const Status& sent, bool server_ended);

// A stream's deadline, generous but finite so a stalled transfer still ends:
// 120 s plus `bytes` (still to send) at 64 KiB/s, or at half the rate limit
// when that is lower.
std::chrono::seconds TransferDeadline(int64_t bytes, int64_t limit_bytes_per_second);
// A download's deadline, set before its size is known: at least 7 days, enough
// for 1 TiB at the rate TransferDeadline assumes.
std::chrono::seconds DownloadDeadline(int64_t limit_bytes_per_second);

// "a/b/c" -> "c"; "" for "".
std::string BaseName(const std::string& path);
// Joins two remote paths with one '/'.
std::string JoinRemote(const std::string& dir, const std::string& name);

}  // namespace ferry
