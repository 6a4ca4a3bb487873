#include "peer/chunk_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "directory_api/wire_rules.h"
#include "transfer/file_source.h"
#include "transfer/grpc_status.h"
#include "transfer/grpc_tuning.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

constexpr std::string_view kTicketPrefix = "Ticket ";

// What the caller hears for content this peer does not (or no longer) share.
Status NotShared(const std::string& sha256) {
  return Status::NotFound(fmt::format("this peer does not share content {}", sha256));
}

// One ReadChunks call counted against max_uploads while it lives.
class UploadSlot {
 public:
  UploadSlot(std::atomic<int>& uploads, int max) : uploads_(uploads) {
    taken_ = uploads_.fetch_add(1) < max;
  }
  ~UploadSlot() { uploads_.fetch_sub(1); }
  UploadSlot(const UploadSlot&) = delete;
  UploadSlot& operator=(const UploadSlot&) = delete;
  bool taken() const { return taken_; }

 private:
  std::atomic<int>& uploads_;
  bool taken_ = false;
};

// "127.0.0.1:51234" of gRPC's "ipv4:127.0.0.1:51234" ("[::1]:5" of "ipv6:[::1]:5").
std::string CallerAddress(const grpc::ServerContext& ctx) {
  std::string peer = ctx.peer();
  for (std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (peer.starts_with(scheme)) return peer.substr(scheme.size());
  }
  return peer;
}

// One call on the upload board while it lives.
class BoardEntry {
 public:
  BoardEntry(UploadBoard* board, std::string user, const std::string& address, std::string sha256,
             const std::string& name)
      : board_(board), user_(std::move(user)), sha256_(std::move(sha256)) {
    if (board_ != nullptr) board_->Begin(user_, address, sha256_, name);
  }
  ~BoardEntry() {
    if (board_ != nullptr) board_->End(user_, sha256_);
  }
  BoardEntry(const BoardEntry&) = delete;
  BoardEntry& operator=(const BoardEntry&) = delete;
  void Sent(int64_t bytes) {
    if (board_ != nullptr) board_->Sent(user_, sha256_, bytes);
  }

 private:
  UploadBoard* board_;
  std::string user_;
  std::string sha256_;
};

// A handler's answer; RESOURCE_EXHAUSTED is final (transfer/grpc_tuning.h).
grpc::Status Answer(grpc::ServerContext* ctx, const Status& s) {
  if (s.code() == Code::kResourceExhausted) MarkAnswerFinal(ctx);
  return ToGrpc(s);
}

}  // namespace

ChunkService::ChunkService(ShareIndex* index, TicketCheck check, ChunkServiceOptions options,
                           std::function<void(const std::string& path)> on_stale,
                           UploadBoard* uploads)
    : index_(index),
      check_(std::move(check)),
      options_(options),
      on_stale_(std::move(on_stale)),
      board_(uploads),
      limiter_(options.limit_bytes_per_second) {}

Result<std::string> ChunkService::Caller(const grpc::ServerContext& ctx) const {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return Status::Unauthenticated("a call to a peer carries a ticket from the directory");
  }
  std::string_view value(it->second.data(), it->second.size());
  if (!value.starts_with(kTicketPrefix)) {
    // A bearer token is the caller's directory session: never looked at,
    // never kept, never passed on.
    return Status::Unauthenticated("peers take tickets from the directory, not tokens");
  }
  return check_(std::string(value.substr(kTicketPrefix.size())));
}

Status ChunkService::Stale(const SharedFile& file, const Status& why) {
  spdlog::info("not serving '{}': {}; the next scan indexes it afresh", file.path, why.message());
  if (on_stale_) on_stale_(file.path);
  return NotShared(file.sha256);
}

Result<std::pair<SharedFile, OpenFile>> ChunkService::OpenContent(const std::string& raw_sha256) {
  auto sha256 = dirapi::CanonicalSha256(raw_sha256, "sha256");
  if (!sha256.ok()) return sha256.status();
  auto found = index_->FindBySha256(*sha256);
  if (!found.ok()) return found.status();
  if (!*found) return NotShared(*sha256);
  auto open = index_->OpenUnchanged(**found);
  if (!open.ok()) return Stale(**found, open.status());
  return std::pair{std::move(**found), std::move(*open)};
}

grpc::Status ChunkService::GetManifest(grpc::ServerContext* ctx, const v1::ManifestRequest* req,
                                       v1::Manifest* resp) {
  auto caller = Caller(*ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  auto content = OpenContent(req->sha256());
  if (!content.ok()) return Answer(ctx, content.status());
  const SharedFile& file = content->first;
  resp->set_size(file.size);
  for (const auto& hash : file.chunk_sha256s) resp->add_chunk_sha256(hash);
  resp->set_chunk_root(file.chunk_root);
  return grpc::Status::OK;
}

grpc::Status ChunkService::ReadChunks(grpc::ServerContext* ctx, const v1::ReadChunksRequest* req,
                                      grpc::ServerWriter<v1::ChunkData>* writer) {
  auto caller = Caller(*ctx);
  if (!caller.ok()) return Answer(ctx, caller.status());
  if (req->chunk_count() < 1 || req->chunk_count() > options_.max_chunks_per_call ||
      req->first_chunk() < 0) {
    return Answer(ctx, Status::InvalidArgument(fmt::format(
                           "ask for 1 to {} chunks from chunk 0 on; asked for {} from chunk {}",
                           options_.max_chunks_per_call, req->chunk_count(), req->first_chunk())));
  }
  UploadSlot slot(uploads_, options_.max_uploads);
  if (!slot.taken()) {
    return Answer(ctx, Status::ResourceExhausted(fmt::format(
                           "this peer is serving its maximum of {} uploads; try another peer",
                           options_.max_uploads)));
  }
  auto content = OpenContent(req->sha256());
  if (!content.ok()) return Answer(ctx, content.status());
  // Named references, not a structured binding: the lambda below uses them
  // (clang 14, the fuzz builds' compiler, cannot capture bindings).
  SharedFile& file = content->first;
  OpenFile& open = content->second;
  const int64_t chunks = ChunkCount(file.size);
  if (req->first_chunk() >= chunks || req->chunk_count() > chunks - req->first_chunk()) {
    return Answer(
        ctx, Status::OutOfRange(fmt::format("the content has {} chunks; asked for {} from chunk {}",
                                            chunks, req->chunk_count(), req->first_chunk())));
  }
  const int64_t begin = req->first_chunk() * kChunkBytes;
  const int64_t end = std::min(file.size, (req->first_chunk() + req->chunk_count()) * kChunkBytes);
  SourceOptions source;
  source.read_error = fmt::format("cannot read '{}'", file.path);
  source.shrank_error = fmt::format("'{}' shrank while it was being sent", file.path);
  BoardEntry on_board(board_, *caller, CallerAddress(*ctx), file.sha256, file.path);
  v1::ChunkData message;
  bool gone = false;
  Status sent = ferry::ReadChunks(open.fd.get(), begin, end, source, [&](Chunk& chunk) -> Status {
    // The bytes just read are of the hashed version only if the file still is.
    if (!ShareIndex::StillUnchanged(open, file)) {
      return Stale(file, Status::FailedPrecondition("it changed while it was being sent"));
    }
    limiter_.Consume(static_cast<int64_t>(chunk.data.size()));
    message.set_index(chunk.offset / kChunkBytes);
    message.mutable_data()->swap(chunk.data);
    const auto size = static_cast<int64_t>(message.data().size());
    if (!writer->Write(message)) {
      gone = true;
      return Status::Cancelled("the caller went away");
    }
    message.mutable_data()->swap(chunk.data);  // the buffer goes back to the reader
    bytes_served_.fetch_add(size);
    on_board.Sent(size);
    return Status::Ok();
  });
  if (gone) return grpc::Status::CANCELLED;
  if (sent.code() == Code::kDataLoss) sent = Stale(file, sent);
  if (!sent.ok()) return Answer(ctx, sent);
  spdlog::debug("served chunks {}..{} of '{}' to '{}'", req->first_chunk(),
                req->first_chunk() + req->chunk_count() - 1, file.path, *caller);
  return grpc::Status::OK;
}

}  // namespace ferry
