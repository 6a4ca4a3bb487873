#include "server/file_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <functional>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/display_text.h"
#include "core/home_glob.h"
#include "core/sha256.h"
#include "server/call_context.h"
#include "server/whole_files.h"
#include "transfer/chunk_pipeline.h"
#include "transfer/file_io.h"
#include "transfer/file_sink.h"
#include "transfer/hash_cache.h"
#include "transfer/publish.h"
#include "transfer/ranged_read.h"

namespace ferry {
namespace {

constexpr size_t kPipelineDepth = 2;
constexpr int64_t kMaxHeadBytes = 1 << 20;
constexpr int64_t kDefaultHeadBytes = 1024;
constexpr int kListBatch = 1000;

struct Caller {
  SessionTable::ActiveCall call;
  HomeFs home;
};

// Checks the session (see BeginCall) and opens the caller's home.
Result<Caller> Authenticate(ServerState* state, grpc::ServerContext* ctx, AuditScope& audit,
                            bool streaming = false) {
  auto call = BeginCall(state->sessions, ctx, audit, streaming);
  if (!call.ok()) return call.status();
  auto home = state->Home(call->user());
  if (!home.ok()) return home.status();
  return Caller{std::move(call).value(), std::move(home).value()};
}

Result<RelPath> ParsePath(const std::string& raw, AuditScope& audit) {
  auto path = RelPath::Parse(raw);
  audit.set_path(path.ok() ? path->Display() : ForDisplay(raw.substr(0, 256)));
  return path;
}

// The shape of every handler but Upload: audit the call, check the session,
// parse the path, then do the work; the outcome is recorded and converted.
template <typename Body>
grpc::Status Serve(ServerState* state, grpc::ServerContext* ctx, const char* operation,
                   const std::string& raw_path, bool streaming, Body&& body) {
  AuditScope audit(&state->audit, ctx, operation);
  return audit.Finish([&]() -> Status {
    auto caller = Authenticate(state, ctx, audit, streaming);
    if (!caller.ok()) return caller.status();
    auto path = ParsePath(raw_path, audit);
    if (!path.ok()) return path.status();
    return body(*caller, *path, audit);
  }());
}

v1::FileType ToWireType(FileType t) {
  switch (t) {
    case FileType::kFile:
      return v1::FILE_TYPE_FILE;
    case FileType::kDirectory:
      return v1::FILE_TYPE_DIRECTORY;
    case FileType::kSymlink:
      return v1::FILE_TYPE_SYMLINK;
    case FileType::kOther:
      return v1::FILE_TYPE_OTHER;
  }
  return v1::FILE_TYPE_OTHER;
}

bool SizeUnknown(const PendingUpload& up) { return up.size == kUnknownUploadSize; }

// "12 of 40 bytes", or "12 bytes" for an upload of unknown size.
std::string BytesOf(const PendingUpload& up, int64_t written) {
  return SizeUnknown(up) ? fmt::format("{} bytes", written)
                         : fmt::format("{} of {} bytes", written, up.size);
}

// An upload that met a full disk (ENOSPC, EDQUOT); its partial is discarded.
Status NoSpaceForUpload(const PendingUpload& up, int64_t written) {
  return Status::ResourceExhausted(
      fmt::format("no space left on the server: the upload of '{}' stopped after {} and "
                  "was discarded; free some space or ask the server's administrator",
                  up.target.Display(), BytesOf(up, written)));
}

// Work that waited for a lock must not go on for a client that gave up.
Status CheckNotCancelled(grpc::ServerContext* ctx) {
  if (ctx->IsCancelled()) return Status::Cancelled("the client cancelled the call");
  return Status::Ok();
}

// One Upload call in the order it happens: open the partial the first
// message names, check where the client resumes, receive the rest, verify the
// whole file's SHA-256, make it durable, then commit it into place. An upload
// of unknown size (a pipe) starts at 0, is checked against the quota and the
// free-space reserve before each chunk is written, and is discarded whenever
// it fails, since it cannot resume.
class UploadCall {
 public:
  UploadCall(ServerState* state, grpc::ServerContext* ctx,
             grpc::ServerReader<v1::UploadChunk>* reader, AuditScope& audit)
      : state_(state), ctx_(ctx), reader_(reader), audit_(audit) {}

  Status Run(v1::UploadResponse* resp) {
    auto caller = Authenticate(state_, ctx_, audit_, /*streaming=*/true);
    if (!caller.ok()) return caller.status();
    caller_ = &*caller;
    FERRY_RETURN_IF_ERROR(OpenPartial());
    Status s = ReceiveAndCommit(resp);
    if (!s.ok() && SizeUnknown(upload())) writer_->Discard();
    return s;
  }

 private:
  Status ReceiveAndCommit(v1::UploadResponse* resp) {
    FERRY_RETURN_IF_ERROR(StartAtClientOffset());
    FERRY_RETURN_IF_ERROR(Receive());
    FERRY_RETURN_IF_ERROR(Verify());
    FERRY_RETURN_IF_ERROR(MakeDurable());
    return Commit(resp);
  }

  const std::string& user() const { return caller_->call.user(); }
  const PendingUpload& upload() const { return writer_->upload(); }

  // The first message names the upload (BeginUpload's id) and the offset.
  Status OpenPartial() {
    if (!reader_->Read(&message_)) return Status::InvalidArgument("empty upload stream");
    auto writer = state_->uploads.Open(user(), message_.upload_id());
    if (!writer.ok()) return writer.status();
    writer_.emplace(std::move(writer).value());
    audit_.set_path(upload().target.Display());
    return Status::Ok();
  }

  // Continues exactly where the client says, which must be within what is held.
  Status StartAtClientOffset() {
    struct stat st {};
    if (::fstat(writer_->fd(), &st) != 0) {
      return ErrnoStatus(errno, "cannot inspect the partial upload");
    }
    int64_t offset = message_.offset();
    if (offset < 0 || offset > st.st_size ||
        (SizeUnknown(upload()) ? offset != 0 : offset > upload().size)) {
      return Status::FailedPrecondition(
          fmt::format("cannot resume at byte {}: the server holds {} bytes of this upload", offset,
                      static_cast<int64_t>(st.st_size)));
    }
    // Checked again now that this stream counts at its full size among the
    // user's partials (UploadStore::PartialBytes): uploads begun together, or
    // written at once, cannot together pass the quota.
    replaced_ = ReplacedBytes(caller_->home, upload().target, upload().overwrite);
    FERRY_RETURN_IF_ERROR(state_->quotas.CheckRoom(user(), -replaced_));
    if (::ftruncate(writer_->fd(), offset) != 0) {
      return ErrnoStatus(errno, "cannot prepare the upload");
    }
    auto sink = FileSink::Resume(writer_->fd(), offset, "cannot store the upload");
    if (!sink.ok()) return sink.status();
    sink_.emplace(std::move(sink).value());
    if (!SizeUnknown(upload())) sink_->ExpectSize(upload().size);  // else no bound but the checks
    return Status::Ok();
  }

  // The network side (TLS, parsing) runs on a second thread while this one
  // writes and hashes: both are CPU-heavy, so overlapping them is what lets
  // an upload use two cores.
  Status Receive() {
    Status received = RunPipeline(
        kPipelineDepth, [&](ChunkQueue& queue) { return ReadMessages(queue); },
        [&](Chunk& chunk) -> Status {
          // No TryCancel on failure: it would replace this status with
          // CANCELLED at the client. The reader stops at the client's next
          // chunk, or when the session's stall watchdog cancels a client that
          // sends nothing.
          if (SizeUnknown(upload())) {
            refused_ = CheckRoomFor(static_cast<int64_t>(chunk.data.size()));
            FERRY_RETURN_IF_ERROR(refused_);
          }
          FERRY_RETURN_IF_ERROR(sink_->Write(chunk));
          audit_.add_bytes(static_cast<int64_t>(chunk.data.size()));
          return Status::Ok();
        });
    if (received.ok()) return Status::Ok();
    if (!refused_.ok()) {
      return Status::ResourceExhausted(fmt::format(
          "the upload of '{}' stopped after {} and was discarded: {}", upload().target.Display(),
          BytesOf(upload(), sink_->written()), refused_.message()));
    }
    if (received.code() == Code::kResourceExhausted) {
      // A full disk: holding the bytes would only keep it full for everyone.
      writer_->Discard();
      return NoSpaceForUpload(upload(), sink_->written());
    }
    if (received.code() == Code::kInvalidArgument) writer_->Discard();
    return received;
  }

  // An upload of unknown size, before it writes `more` bytes: they must fit
  // in the user's quota (its partial already counts at what it holds) and
  // above the free-space reserve.
  Status CheckRoomFor(int64_t more) {
    FERRY_RETURN_IF_ERROR(state_->quotas.CheckRoom(user(), more - replaced_));
    return state_->uploads.CheckSpace(more);
  }

  // Network thread: queues each message's data, refusing more than announced.
  Status ReadMessages(ChunkQueue& queue) {
    for (bool more = true; more; more = reader_->Read(&message_)) {
      caller_->call.Progress();
      if (!message_.sha256().empty()) {
        client_sha_ = message_.sha256();
        client_total_ = message_.total_size();
      }
      if (message_.data().empty()) continue;
      if (!sink_->Admit(static_cast<int64_t>(message_.data().size()))) {
        return Status::InvalidArgument(
            fmt::format("the client sent more than the announced {} bytes", upload().size));
      }
      Chunk chunk;
      chunk.data = queue.TakeBuffer();
      chunk.data.swap(*message_.mutable_data());  // the next message reuses the spare buffer
      if (!queue.Push(std::move(chunk))) return Status::Ok();  // the writer says why
    }
    return Status::Ok();
  }

  Status Verify() {
    if (client_sha_.empty() || (!SizeUnknown(upload()) && !sink_->complete())) {
      // Keep what arrived: running the upload again resumes from here.
      return Status::Aborted(fmt::format("upload of '{}' interrupted at {}",
                                         upload().target.Display(),
                                         BytesOf(upload(), sink_->written())));
    }
    if (SizeUnknown(upload()) && client_total_ != sink_->written()) {
      return Status::DataLoss(fmt::format(
          "upload of '{}': the client sent {} bytes but says it sent {}; nothing was stored",
          upload().target.Display(), sink_->written(), client_total_));
    }
    if (!sink_->Matches(client_sha_)) {
      writer_->Discard();
      return Status::DataLoss(fmt::format(
          "checksum mismatch for '{}': the data was damaged in transit; nothing was stored",
          upload().target.Display()));
    }
    return Status::Ok();
  }

  // Before taking the path's lock, so the lock is not held while the bytes
  // reach the disk; Commit's own fsync then finds little left to do.
  Status MakeDurable() {
    Status synced =
        ::fchmod(writer_->fd(), 0644) == 0
            ? SetModificationTime(writer_->fd(), upload().mtime_ns, "cannot store the upload")
            : ErrnoStatus(errno, "cannot store the upload");
    if (synced.ok()) synced = sink_->Sync();
    if (synced.code() == Code::kResourceExhausted) {
      writer_->Discard();
      return NoSpaceForUpload(upload(), sink_->written());
    }
    return synced;
  }

  Status Commit(v1::UploadResponse* resp) {
    const RelPath& target = upload().target;
    auto lock = state_->locks.Write(user(), target);
    FERRY_RETURN_IF_ERROR(CheckNotCancelled(ctx_));  // the partial stays for a retry
    auto parent = caller_->home.OpenParent(target);
    if (!parent.ok()) return parent.status();
    int64_t replaced = ReplacedBytes(caller_->home, target, upload().overwrite);
    Published published = writer_->Commit(*parent);
    if (!published.moved) {
      if (published.error == EEXIST) {
        return Status::AlreadyExists(fmt::format(
            "'{}' appeared while uploading (use --force to replace it); the upload is kept "
            "and a retry with --force completes it at once",
            target.Display()));
      }
      return published.error != 0 ? PathError(published.error, target.Display()) : published.status;
    }
    state_->quotas.Adjust(user(), sink_->written() - replaced);
    // The file is in place; failing the call now would only make a retry see
    // ALREADY_EXISTS. Durability of the name is what is at stake: log it.
    if (!published.ok()) {
      spdlog::warn("upload of '{}' by '{}': {}", target.Display(), user(),
                   published.status.ToString());
    }
    if (auto stored = StatFd(writer_->fd()); stored.ok()) {
      StoreSha256(writer_->fd(), *stored, sink_->sha256());
    }
    auto info = caller_->home.Stat(target);
    if (info.ok()) ToEntry(*info, resp->mutable_entry());
    resp->set_sha256(sink_->sha256());
    return Status::Ok();
  }

  ServerState* state_;
  grpc::ServerContext* ctx_;
  grpc::ServerReader<v1::UploadChunk>* reader_;
  AuditScope& audit_;
  Caller* caller_ = nullptr;
  v1::UploadChunk message_;
  std::optional<UploadStore::Writer> writer_;
  std::optional<FileSink> sink_;
  std::string client_sha_;
  int64_t client_total_ = 0;  // what the last message says was sent (unknown size only)
  int64_t replaced_ = 0;      // bytes the upload frees by replacing an existing file
  Status refused_;            // why an upload of unknown size was stopped (quota, reserve)
};

// Streams `range` of `file` as Download replies: the first carries the file's
// size and mtime, the last the SHA-256 of [0, range end).
Status SendRange(const OpenFile& file, ByteRange range, bool chunk_sha256,
                 SessionTable::ActiveCall& call, AuditScope& audit,
                 grpc::ServerWriter<v1::DownloadChunk>* writer) {
  v1::DownloadChunk reply;
  reply.set_size(file.info.size);
  reply.set_mtime_ns(file.info.mtime_ns);
  RangeOptions options;
  options.chunk_sha256 = chunk_sha256;
  return ServeRange(file, range, options,
                    [&](Chunk& chunk, bool last, const std::string& prefix_sha256) -> Status {
                      // The chunk's buffer travels in the reply and comes back for reuse.
                      reply.mutable_data()->swap(chunk.data);
                      reply.set_chunk_sha256(chunk.sha256);
                      grpc::WriteOptions write_options;
                      if (last) {
                        reply.set_sha256(prefix_sha256);
                        write_options.set_last_message();
                      }
                      bool written = writer->Write(reply, write_options);
                      reply.mutable_data()->swap(chunk.data);
                      if (!written) return Status::Cancelled("the client went away");
                      call.Progress();
                      audit.add_bytes(static_cast<int64_t>(chunk.data.size()));
                      reply.clear_size();
                      reply.clear_mtime_ns();
                      return Status::Ok();
                    });
}

}  // namespace

void ToEntry(const FileInfo& info, v1::FileEntry* entry) {
  entry->set_name(info.name);
  entry->set_type(ToWireType(info.type));
  entry->set_size(info.size);
  entry->set_mtime_ns(info.mtime_ns);
  entry->set_mode(info.mode);
}

grpc::Status FileService::List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                               grpc::ServerWriter<v1::ListResponse>* writer) {
  return Serve(state_, ctx, "list", req->path(), /*streaming=*/false,
               [&](Caller& caller, const RelPath& path, AuditScope&) -> Status {
                 Result<std::vector<FileInfo>> entries = [&] {
                   auto lock = state_->locks.Read(caller.call.user(), path);
                   return caller.home.List(path);
                 }();
                 if (!entries.ok()) {
                   // Listing a file shows that one entry, as ls does.
                   if (entries.status().code() != Code::kFailedPrecondition)
                     return entries.status();
                   auto info = caller.home.Stat(path);
                   if (!info.ok()) return info.status();
                   entries = std::vector<FileInfo>{*info};
                 }
                 v1::ListResponse batch;
                 for (const auto& e : *entries) {
                   ToEntry(e, batch.add_entries());
                   if (batch.entries_size() == kListBatch) {
                     if (!writer->Write(batch)) return Status::Cancelled("the client went away");
                     batch.Clear();
                   }
                 }
                 if (batch.entries_size() > 0 || entries->empty()) writer->Write(batch);
                 return Status::Ok();
               });
}

grpc::Status FileService::Glob(grpc::ServerContext* ctx, const v1::GlobRequest* req,
                               grpc::ServerWriter<v1::ListResponse>* writer) {
  return Serve(state_, ctx, "glob", req->pattern(), /*streaming=*/false,
               [&](Caller& caller, const RelPath& pattern, AuditScope&) -> Status {
                 // A read-only walk: no path lock, as a concurrent change at worst
                 // makes a match vanish, which the caller's next call reports.
                 auto matches = ExpandGlob(caller.home, pattern);
                 if (!matches.ok()) return matches.status();
                 v1::ListResponse batch;
                 for (const auto& m : *matches) {
                   v1::FileEntry* entry = batch.add_entries();
                   ToEntry(m.info, entry);
                   entry->set_name(m.path.Relative());
                   if (batch.entries_size() == kListBatch) {
                     if (!writer->Write(batch)) return Status::Cancelled("the client went away");
                     batch.Clear();
                   }
                 }
                 if (batch.entries_size() > 0) writer->Write(batch);
                 return Status::Ok();
               });
}

grpc::Status FileService::Stat(grpc::ServerContext* ctx, const v1::StatRequest* req,
                               v1::StatResponse* resp) {
  return Serve(state_, ctx, req->sha256() ? "stat-sha256" : "stat", req->path(),
               /*streaming=*/false,
               [&](Caller& caller, const RelPath& path, AuditScope& audit) -> Status {
                 Result<FileInfo> info = Status::Internal("unset");
                 Result<OpenFile> file = Status::Internal("unset");
                 {
                   auto lock = state_->locks.Read(caller.call.user(), path);
                   info = caller.home.Stat(path);
                   if (info.ok() && req->sha256() && info->type == FileType::kFile) {
                     file = caller.home.OpenForRead(path);
                   }
                 }
                 if (!info.ok()) return info.status();
                 ToEntry(*info, resp->mutable_entry());
                 if (req->sha256() && info->type == FileType::kFile) {
                   // Hashing a large file takes a while; the open descriptor keeps this
                   // version readable, so the lock is not held for it.
                   if (!file.ok()) return file.status();
                   if (auto cached = CachedSha256(file->fd.get(), file->info)) {
                     resp->set_sha256(*cached);
                   } else {
                     auto hex = Sha256OfFd(file->fd.get());
                     if (!hex.ok()) return hex.status();
                     StoreSha256(file->fd.get(), file->info, *hex);
                     resp->set_sha256(*hex);
                     audit.add_bytes(file->info.size);
                   }
                 }
                 return Status::Ok();
               });
}

grpc::Status FileService::MakeDirectory(grpc::ServerContext* ctx,
                                        const v1::MakeDirectoryRequest* req, v1::Empty*) {
  return Serve(state_, ctx, "mkdir", req->path(), /*streaming=*/false,
               [&](Caller& caller, const RelPath& path, AuditScope&) -> Status {
                 // A new entry takes some space: refused once the quota is reached.
                 FERRY_RETURN_IF_ERROR(state_->quotas.CheckRoom(caller.call.user(), 1));
                 auto lock = state_->locks.Write(caller.call.user(), path);
                 return caller.home.MakeDirectory(path, req->parents());
               });
}

grpc::Status FileService::Touch(grpc::ServerContext* ctx, const v1::TouchRequest* req, v1::Empty*) {
  return Serve(state_, ctx, "touch", req->path(), /*streaming=*/false,
               [&](Caller& caller, const RelPath& path, AuditScope&) -> Status {
                 if (path.IsRoot()) return Status::AlreadyExists("'/' already exists");
                 FERRY_RETURN_IF_ERROR(state_->quotas.CheckRoom(caller.call.user(), 1));
                 auto lock = state_->locks.Write(caller.call.user(), path);
                 return caller.home.Touch(path);
               });
}

grpc::Status FileService::Remove(grpc::ServerContext* ctx, const v1::RemoveRequest* req,
                                 v1::Empty*) {
  return Serve(state_, ctx, req->recursive() ? "rm-r" : "rm", req->path(), /*streaming=*/false,
               [&](Caller& caller, const RelPath& path, AuditScope&) -> Status {
                 auto lock = state_->locks.Write(caller.call.user(), path);
                 FERRY_RETURN_IF_ERROR(CheckNotCancelled(ctx));
                 auto info = caller.home.Stat(path);
                 FERRY_RETURN_IF_ERROR(caller.home.Remove(path, req->recursive()));
                 if (info.ok() && info->type != FileType::kDirectory) {
                   state_->quotas.Adjust(caller.call.user(), -info->size);
                 } else {
                   state_->quotas.Forget(caller.call.user());
                 }
                 return Status::Ok();
               });
}

grpc::Status FileService::Rename(grpc::ServerContext* ctx, const v1::RenameRequest* req,
                                 v1::Empty*) {
  return Serve(state_, ctx, "mv", req->from(), /*streaming=*/false,
               [&](Caller& caller, const RelPath& from, AuditScope& audit) -> Status {
                 auto to = RelPath::Parse(req->to());
                 audit.set_path2(to.ok() ? to->Display() : ForDisplay(req->to().substr(0, 256)));
                 if (!to.ok()) return to.status();
                 auto lock = state_->locks.Lock(caller.call.user(), {{from, true}, {*to, true}});
                 FERRY_RETURN_IF_ERROR(CheckNotCancelled(ctx));
                 FERRY_RETURN_IF_ERROR(caller.home.Rename(from, *to, req->overwrite()));
                 // What a replacing rename freed is not known here.
                 if (req->overwrite()) state_->quotas.Forget(caller.call.user());
                 return Status::Ok();
               });
}

grpc::Status FileService::Head(grpc::ServerContext* ctx, const v1::HeadRequest* req,
                               v1::HeadResponse* resp) {
  return Serve(
      state_, ctx, "head", req->path(), /*streaming=*/false,
      [&](Caller& caller, const RelPath& path, AuditScope& audit) -> Status {
        if (req->length() < 0) {
          return Status::InvalidArgument(
              fmt::format("a preview length cannot be negative ({} bytes asked for; 0 means {})",
                          req->length(), kDefaultHeadBytes));
        }
        if (req->length() > kMaxHeadBytes) {
          return Status::InvalidArgument(fmt::format("a preview is at most {} bytes ({} asked for)",
                                                     kMaxHeadBytes, req->length()));
        }
        Result<OpenFile> file = [&] {
          auto lock = state_->locks.Read(caller.call.user(), path);
          return caller.home.OpenForRead(path);
        }();
        if (!file.ok()) return file.status();
        int64_t want =
            std::min(req->length() == 0 ? kDefaultHeadBytes : req->length(), file->info.size);
        std::string data(static_cast<size_t>(want), '\0');
        auto n = ReadFullAt(file->fd.get(), data.data(), data.size(), 0, "cannot read the file");
        if (!n.ok()) return n.status();
        data.resize(*n);
        audit.add_bytes(static_cast<int64_t>(data.size()));
        resp->set_data(std::move(data));
        resp->set_size(file->info.size);
        return Status::Ok();
      });
}

grpc::Status FileService::BeginUpload(grpc::ServerContext* ctx, const v1::BeginUploadRequest* req,
                                      v1::BeginUploadResponse* resp) {
  return Serve(
      state_, ctx, "upload-begin", req->path(), /*streaming=*/false,
      [&](Caller& caller, const RelPath& path, AuditScope&) -> Status {
        if (path.IsRoot()) return Status::InvalidArgument("an upload needs a file name");
        if (req->size() < kUnknownUploadSize) {
          return Status::InvalidArgument("negative upload size (-1 is an unknown size)");
        }
        if (req->resume_key().size() > 256) return Status::InvalidArgument("resume key too long");
        // Fail early rather than after the whole transfer: the destination must be
        // free (or replaceable) and its directory must exist.
        auto info = caller.home.Stat(path);
        if (info.ok()) {
          if (info->type == FileType::kDirectory) {
            return Status::FailedPrecondition(fmt::format("'{}' is a directory", path.Display()));
          }
          if (!req->overwrite()) {
            return Status::AlreadyExists(
                fmt::format("'{}' already exists (use --force to replace it)", path.Display()));
          }
        } else if (info.status().code() != Code::kNotFound) {
          return info.status();
        }
        auto parent = caller.home.OpenParent(path);
        if (!parent.ok()) return parent.status();
        if (req->mtime_ns() < 0) return Status::InvalidArgument("negative modification time");
        PendingUpload pending{caller.call.user(), path, req->size(), req->overwrite()};
        pending.mtime_ns = req->mtime_ns();
        auto begun = state_->uploads.Begin(std::move(pending), req->resume_key());
        if (!begun.ok()) return begun.status();
        int64_t replaced = info.ok() && info->type == FileType::kFile ? info->size : 0;
        // An unknown size is checked as its bytes arrive; here only a user
        // already past the quota is refused.
        int64_t coming = req->size() == kUnknownUploadSize ? 0 : req->size() - begun->second;
        FERRY_RETURN_IF_ERROR(state_->quotas.CheckRoom(caller.call.user(), coming - replaced));
        resp->set_upload_id(begun->first);
        resp->set_offset(begun->second);
        return Status::Ok();
      });
}

grpc::Status FileService::Upload(grpc::ServerContext* ctx,
                                 grpc::ServerReader<v1::UploadChunk>* reader,
                                 v1::UploadResponse* resp) {
  AuditScope audit(&state_->audit, ctx, "upload");
  UploadCall call(state_, ctx, reader, audit);
  return audit.Finish(call.Run(resp));
}

grpc::Status FileService::Download(grpc::ServerContext* ctx, const v1::DownloadRequest* req,
                                   grpc::ServerWriter<v1::DownloadChunk>* writer) {
  return Serve(state_, ctx, "download", req->path(), /*streaming=*/true,
               [&](Caller& caller, const RelPath& path, AuditScope& audit) -> Status {
                 // Lock only while opening: the open descriptor keeps this version of
                 // the file readable even if a new upload replaces the name meanwhile.
                 Result<OpenFile> file = [&] {
                   auto lock = state_->locks.Read(caller.call.user(), path);
                   return caller.home.OpenForRead(path);
                 }();
                 if (!file.ok()) return file.status();
                 auto range =
                     ResolveRange(file->info.size, req->offset(), req->length(), path.Display());
                 if (!range.ok()) return range.status();
                 return SendRange(*file, *range, req->chunk_sha256(), caller.call, audit, writer);
               });
}

grpc::Status FileService::PutFiles(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::PutFilesResponse, v1::PutFilesRequest>* stream) {
  AuditScope audit(&state_->audit, ctx, "upload-batch");
  return audit.Finish([&]() -> Status {
    auto caller = Authenticate(state_, ctx, audit, /*streaming=*/true);
    if (!caller.ok()) return caller.status();
    return ReceiveWholeFiles({*state_, ctx, caller->call, caller->home, audit}, stream);
  }());
}

grpc::Status FileService::GetFiles(grpc::ServerContext* ctx, const v1::GetFilesRequest* req,
                                   grpc::ServerWriter<v1::GetFilesResponse>* writer) {
  AuditScope audit(&state_->audit, ctx, "download-batch");
  return audit.Finish([&]() -> Status {
    auto caller = Authenticate(state_, ctx, audit, /*streaming=*/true);
    if (!caller.ok()) return caller.status();
    return SendWholeFiles({*state_, ctx, caller->call, caller->home, audit}, *req, writer);
  }());
}

}  // namespace ferry
