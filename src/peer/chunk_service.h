// The peer's chunk service (proto/ferry/v1/peer.proto): shared content by its
// SHA-256, out of the share index, read-only. No path from the network is
// ever resolved: a request names content, the index names the file.
//
// Before a chunk goes out, the file is checked to be the version that was
// hashed (size, mtime and inode when opened, size and mtime again for every
// chunk). A file that changed is not served: the caller gets NOT_FOUND ("this
// peer no longer has that content"), and `on_stale` is told, so that the peer
// indexes the file afresh.
//
// Callers prove who they are with a directory ticket ("authorization: Ticket
// T"); a directory bearer token is refused without being looked at or kept.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "core/status.h"
#include "ferry/v1/peer.grpc.pb.h"
#include "peer/share_index.h"
#include "peer/upload_board.h"
#include "transfer/rate_limiter.h"

namespace ferry {

struct ChunkServiceOptions {
  // ReadChunks calls served at once; more get RESOURCE_EXHAUSTED (final, so
  // the caller turns to other peers rather than retrying here).
  int max_uploads = 8;
  // All uploads together; 0: as fast as possible.
  int64_t limit_bytes_per_second = 0;
  // The most chunks one ReadChunks call may ask for.
  int max_chunks_per_call = 64;
};

// The user a ticket was issued to, or UNAUTHENTICATED / PERMISSION_DENIED.
// Called for every call with the ticket it carries (64 hex digits or not:
// the check decides); the peer's own implementation asks the directory and
// remembers answers briefly.
using TicketCheck = std::function<Result<std::string>(const std::string& ticket)>;

class ChunkService final : public v1::Peer::Service {
 public:
  // `index` and `check` must outlive the service. `on_stale` (may be empty)
  // gets the share-relative path of a file found changed. `uploads` (may be
  // null; outlives the service) hears of every chunk sent.
  ChunkService(ShareIndex* index, TicketCheck check, ChunkServiceOptions options,
               std::function<void(const std::string& path)> on_stale = {},
               UploadBoard* uploads = nullptr);

  grpc::Status GetManifest(grpc::ServerContext* ctx, const v1::ManifestRequest* req,
                           v1::Manifest* resp) override;
  grpc::Status ReadChunks(grpc::ServerContext* ctx, const v1::ReadChunksRequest* req,
                          grpc::ServerWriter<v1::ChunkData>* writer) override;

  int uploads_in_progress() const { return uploads_.load(); }
  int64_t bytes_served() const { return bytes_served_.load(); }

 private:
  // The caller's user name, from the call's ticket.
  Result<std::string> Caller(const grpc::ServerContext& ctx) const;
  // The indexed file with content `sha256`, opened and checked unchanged.
  Result<std::pair<SharedFile, OpenFile>> OpenContent(const std::string& sha256);
  Status Stale(const SharedFile& file, const Status& why);

  ShareIndex* index_;
  TicketCheck check_;
  const ChunkServiceOptions options_;
  std::function<void(const std::string&)> on_stale_;
  UploadBoard* board_;
  SharedRateLimiter limiter_;
  std::atomic<int> uploads_{0};
  std::atomic<int64_t> bytes_served_{0};
};

}  // namespace ferry
