// The downloader: fetches one content from every online peer that has it at
// once, verifying each chunk as it arrives (docs/peer.md, "`ferry fetch`").
//
// It asks the directory for the content's sources and a ticket per peer,
// dials each peer over TLS pinned to the certificate fingerprint the
// directory published (a peer presenting another certificate is never
// used), takes the chunk hashes from the first peer whose manifest checks
// against the directory's chunk root, then pulls chunks from every usable
// peer, several requests in flight at each, out of one shared queue
// (chunk_schedule.h). Each chunk comes from exactly one peer and is checked
// against its hash on arrival: a peer that sends a bad chunk is dropped for
// the rest of the download, one that errors or stalls loses its chunks to
// the others. Verified chunks go into "<to>/.ferry-<name>.part" with a
// record of which are done (done_record.h), so a download run again resumes.
// The finished file's SHA-256 is checked against the content's before it is
// published under "<to>/<name>".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "core/status.h"
#include "directory_api/wire_types.h"

namespace ferry {

namespace dirclient {
class DirectoryClient;
}

struct DownloadRequest {
  std::string sha256;    // 64 hex digits: the content
  std::string name;      // the file name to publish it as: one path component
  std::string to_dir;    // the folder it goes into (must exist)
  bool replace = false;  // publish over an existing file of that name
};

struct DownloadOptions {
  int requests_per_peer = 2;   // ReadChunks calls in flight at each peer
  int chunks_per_request = 4;  // the most chunks one call asks for
  // A call that delivers nothing for this long is a stalled peer: it loses
  // its chunks to the others and is not used again.
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // With nothing left to ask for, an idle peer also asks for a chunk that has
  // been in flight at another peer at least this long (endgame).
  std::chrono::milliseconds endgame_after{std::chrono::milliseconds(500)};
  // The done record is saved after this many new chunks, or this often.
  int record_every_chunks = 8;
  std::chrono::milliseconds record_every{std::chrono::milliseconds(500)};
};

// One source peer, as the download saw it.
struct PeerReport {
  enum class State { kActive, kDropped, kLost };
  std::string peer_id;
  std::string address;
  State state = State::kActive;
  std::string why;    // kDropped: the bad chunk; kLost: the error
  int64_t bytes = 0;  // verified bytes it delivered that were kept
  int64_t chunks = 0;
  int64_t wasted = 0;  // verified bytes that arrived after another copy won
};

struct DownloadProgress {
  int64_t size = 0;
  int64_t done_bytes = 0;     // verified, in the partial file
  int64_t resumed_bytes = 0;  // of those, found verified at the start
  int peers_in_use = 0;
  std::chrono::steady_clock::duration elapsed{};
  std::vector<PeerReport> peers;
};

// Called from the downloader's thread, about ten times a second and once at
// the end; must not block.
using DownloadObserver = std::function<void(const DownloadProgress&)>;

struct DownloadResult {
  std::string path;  // where the file now is
  DownloadProgress progress;
};

// Downloads `request` through `directory` (a logged-in session, used from
// the calling thread only). `stop` ends it early with CANCELLED, keeping what
// is verified. Errors: NOT_FOUND when no online peer has the content;
// UNAVAILABLE when no peer is left with chunks missing (what was verified is
// kept for the next run); DATA_LOSS when the finished file's SHA-256 is not
// the content's; ALREADY_EXISTS when `name` exists in `to_dir` and
// !replace; a disk error's status otherwise.
Result<DownloadResult> Download(dirclient::DirectoryClient& directory,
                                const DownloadRequest& request, const DownloadOptions& options,
                                std::stop_token stop, const DownloadObserver& observer);

// OK if `name` can be the name of a downloaded file: one path component,
// not "." or "..", no NUL, not one of the peer's own names (".ferry-...");
// INVALID_ARGUMENT saying so otherwise.
Status CheckDownloadName(const std::string& name);

// Removes the partial file of `request` and its record of verified chunks,
// if they exist: a cancelled download leaves nothing behind.
void DiscardPartial(const DownloadRequest& request);

// The bytes of the `size`-byte content of `request` that its partial file's
// record marks verified: what a run would resume from (0 without a record).
int64_t VerifiedBytes(const DownloadRequest& request, int64_t size);

// The content a fetch by name or by SHA-256 means: exactly one of `text` (a
// part of the file name) and `sha256` is set. NOT_FOUND when nothing
// matches; FAILED_PRECONDITION listing the matches (name, size, SHA-256,
// peers) when a name matches several contents.
Result<dirapi::SearchHit> FindContent(dirclient::DirectoryClient& directory,
                                      const std::string& text, const std::string& sha256);

// "3.0 MiB in 1.2 s (2.5 MiB/s); from 127.0.0.1:4001 1.0 MiB, ...; dropped: ..."
std::string DownloadSummary(const DownloadProgress& progress);

}  // namespace ferry
