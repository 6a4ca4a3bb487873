#include "server/file_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <functional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/chunk_pipeline.h"
#include "core/display_text.h"
#include "core/file_io.h"
#include "core/hash_cache.h"
#include "core/sha256.h"
#include "core/transfer_limits.h"
#include "server/call_context.h"

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

// An upload that met a full disk (ENOSPC, EDQUOT); its partial is discarded.
Status NoSpaceForUpload(const PendingUpload& up, int64_t written) {
  return Status::ResourceExhausted(fmt::format(
      "no space left on the server: the upload of '{}' stopped after {} of {} bytes and "
      "was discarded; free some space or ask the server's administrator",
      up.target.Display(), written, up.size));
}

// Bytes a write to `path` frees by replacing what is there: the size of an
// existing file when `overwrite`, else 0.
int64_t ReplacedBytes(const HomeFs& home, const RelPath& path, bool overwrite) {
  if (!overwrite) return 0;
  auto info = home.Stat(path);
  return info.ok() && info->type == FileType::kFile ? info->size : 0;
}

// Work that waited for a lock must not go on for a client that gave up.
Status CheckNotCancelled(grpc::ServerContext* ctx) {
  if (ctx->IsCancelled()) return Status::Cancelled("the client cancelled the call");
  return Status::Ok();
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
        if (req->length() < 0 || req->length() > kMaxHeadBytes) {
          return Status::InvalidArgument(
              fmt::format("a preview is at most {} bytes", kMaxHeadBytes));
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
        if (req->size() < 0) return Status::InvalidArgument("negative upload size");
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
        auto begun = state_->uploads.Begin(
            {caller.call.user(), path, req->size(), req->overwrite()}, req->resume_key());
        if (!begun.ok()) return begun.status();
        int64_t replaced = info.ok() && info->type == FileType::kFile ? info->size : 0;
        FERRY_RETURN_IF_ERROR(
            state_->quotas.CheckRoom(caller.call.user(), req->size() - begun->second - replaced));
        resp->set_upload_id(begun->first);
        resp->set_offset(begun->second);
        return Status::Ok();
      });
}

grpc::Status FileService::Upload(grpc::ServerContext* ctx,
                                 grpc::ServerReader<v1::UploadChunk>* reader,
                                 v1::UploadResponse* resp) {
  AuditScope audit(&state_->audit, ctx, "upload");
  return audit.Finish([&]() -> Status {
    auto caller = Authenticate(state_, ctx, audit, /*streaming=*/true);
    if (!caller.ok()) return caller.status();
    v1::UploadChunk chunk;
    if (!reader->Read(&chunk)) return Status::InvalidArgument("empty upload stream");
    auto writer = state_->uploads.Open(caller->call.user(), chunk.upload_id());
    if (!writer.ok()) return writer.status();
    const PendingUpload& up = writer->upload();
    audit.set_path(up.target.Display());
    int fd = writer->fd();

    // Continue exactly where the client says, which must be within what is held.
    struct stat st {};
    if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "cannot inspect the partial upload");
    int64_t offset = chunk.offset();
    if (offset < 0 || offset > st.st_size || offset > up.size) {
      return Status::FailedPrecondition(
          fmt::format("cannot resume at byte {}: the server holds {} bytes of this upload", offset,
                      static_cast<int64_t>(st.st_size)));
    }
    // Checked again now that this stream counts at its full size among the
    // user's partials (UploadStore::PartialBytes): uploads begun together, or
    // written at once, cannot together pass the quota.
    FERRY_RETURN_IF_ERROR(state_->quotas.CheckRoom(
        caller->call.user(), -ReplacedBytes(caller->home, up.target, up.overwrite)));
    if (::ftruncate(fd, offset) != 0) return ErrnoStatus(errno, "cannot prepare the upload");
    Sha256 hash;
    FERRY_RETURN_IF_ERROR(HashFile(fd, offset, hash));

    // The network side (TLS, parsing) runs on a second thread while this one
    // writes and hashes: both are CPU-heavy, so overlapping them is what lets
    // an upload use two cores.
    std::string client_sha;
    int64_t announced_end = offset;
    Status piped = RunPipeline(
        kPipelineDepth,
        [&](ChunkQueue& queue) -> Status {
          for (bool more = true; more; more = reader->Read(&chunk)) {
            caller->call.Progress();
            if (!chunk.sha256().empty()) client_sha = chunk.sha256();
            std::string* data = chunk.mutable_data();
            if (data->empty()) continue;
            announced_end += static_cast<int64_t>(data->size());
            if (announced_end > up.size) {
              return Status::InvalidArgument(
                  fmt::format("the client sent more than the announced {} bytes", up.size));
            }
            if (!queue.Push(std::move(*data))) return Status::Ok();  // the writer says why
            data->clear();
          }
          return Status::Ok();
        },
        [&](std::string& data) -> Status {
          // No TryCancel on failure: it would replace this status with CANCELLED
          // at the client. The reader stops at the client's next chunk, or when
          // the session's stall watchdog cancels a client that sends nothing.
          FERRY_RETURN_IF_ERROR(
              WriteFullAt(fd, data.data(), data.size(), offset, "cannot store the upload"));
          hash.Update(data.data(), data.size());
          offset += static_cast<int64_t>(data.size());
          audit.add_bytes(static_cast<int64_t>(data.size()));
          return Status::Ok();
        });
    if (!piped.ok()) {
      if (piped.code() == Code::kResourceExhausted) {
        // A full disk: holding the bytes would only keep it full for everyone.
        writer->Discard();
        return NoSpaceForUpload(up, offset);
      }
      if (piped.code() == Code::kInvalidArgument) writer->Discard();
      return piped;
    }
    if (offset < up.size || client_sha.empty()) {
      // Keep what arrived: running the upload again resumes from here.
      return Status::Aborted(fmt::format("upload of '{}' interrupted at {} of {} bytes",
                                         up.target.Display(), offset, up.size));
    }
    std::string server_sha = hash.FinishHex();
    std::transform(client_sha.begin(), client_sha.end(), client_sha.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (server_sha != client_sha) {
      writer->Discard();
      return Status::DataLoss(fmt::format(
          "checksum mismatch for '{}': the data was damaged in transit; nothing was stored",
          up.target.Display()));
    }
    if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
      if (errno == ENOSPC || errno == EDQUOT) {
        writer->Discard();
        return NoSpaceForUpload(up, offset);
      }
      return ErrnoStatus(errno, "cannot make the upload durable");
    }

    auto lock = state_->locks.Write(caller->call.user(), up.target);
    FERRY_RETURN_IF_ERROR(CheckNotCancelled(ctx));  // the partial stays for a retry
    auto parent = caller->home.OpenParent(up.target);
    if (!parent.ok()) return parent.status();
    std::string part_dir = state_->uploads.dir() + "/" + caller->call.user();
    std::string part_name = writer->part_path().substr(part_dir.size() + 1);
    UniqueFd part_dir_fd(::open(part_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!part_dir_fd.valid()) return ErrnoStatus(errno, "cannot open the upload area");
    int64_t replaced = ReplacedBytes(caller->home, up.target, up.overwrite);
    unsigned flags = up.overwrite ? 0 : RENAME_NOREPLACE;
    if (::renameat2(part_dir_fd.get(), part_name.c_str(), parent->dir.get(), parent->leaf.c_str(),
                    flags) != 0) {
      int err = errno;
      if (err == EEXIST) {
        return Status::AlreadyExists(fmt::format(
            "'{}' appeared while uploading (use --force to replace it); the upload is kept "
            "and a retry with --force completes it at once",
            up.target.Display()));
      }
      return PathError(err, up.target.Display());
    }
    writer->Complete();
    state_->quotas.Adjust(caller->call.user(), up.size - replaced);
    // The file is in place; failing the call now would only make a retry see
    // ALREADY_EXISTS. Durability of the name is what is at stake: log it.
    if (Status synced = SyncDirectory(parent->dir.get()); !synced.ok()) {
      spdlog::warn("upload of '{}' by '{}': {}", up.target.Display(), caller->call.user(),
                   synced.ToString());
    }
    if (auto stored = StatFd(fd); stored.ok()) StoreSha256(fd, *stored, server_sha);
    auto info = caller->home.Stat(up.target);
    if (info.ok()) ToEntry(*info, resp->mutable_entry());
    resp->set_sha256(server_sha);
    return Status::Ok();
  }());
}

grpc::Status FileService::Download(grpc::ServerContext* ctx, const v1::DownloadRequest* req,
                                   grpc::ServerWriter<v1::DownloadChunk>* writer) {
  return Serve(
      state_, ctx, "download", req->path(), /*streaming=*/true,
      [&](Caller& caller, const RelPath& path, AuditScope& audit) -> Status {
        // Lock only while opening: the open descriptor keeps this version of the
        // file readable even if a new upload replaces the name meanwhile.
        Result<OpenFile> file = [&] {
          auto lock = state_->locks.Read(caller.call.user(), path);
          return caller.home.OpenForRead(path);
        }();
        if (!file.ok()) return file.status();
        int fd = file->fd.get();
        int64_t size = file->info.size;
        int64_t offset = req->offset();
        if (offset < 0 || offset > size || req->length() < 0) {
          return Status::OutOfRange(fmt::format("range starts at {} but '{}' has {} bytes", offset,
                                                path.Display(), size));
        }
        // (Written so that offset + length cannot overflow.)
        int64_t end =
            req->length() == 0 || req->length() > size - offset ? size : offset + req->length();
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        // A hash remembered from the upload (or an earlier download) spares
        // reading the file twice; otherwise hash as it streams.
        std::optional<std::string> known_sha;
        if (end == size) known_sha = CachedSha256(fd, file->info);
        Sha256 hash;
        if (!known_sha) FERRY_RETURN_IF_ERROR(HashFile(fd, offset, hash));

        v1::DownloadChunk chunk;
        chunk.set_size(size);
        chunk.set_mtime_ns(file->info.mtime_ns);
        auto send = [&](std::string data, bool last) -> Status {
          chunk.set_data(std::move(data));
          grpc::WriteOptions options;
          if (last) {
            chunk.set_sha256(known_sha ? *known_sha : hash.FinishHex());
            options.set_last_message();
          }
          if (!writer->Write(chunk, options)) return Status::Cancelled("the client went away");
          caller.call.Progress();
          audit.add_bytes(static_cast<int64_t>(chunk.data().size()));
          chunk.clear_size();
          chunk.clear_mtime_ns();
          return Status::Ok();
        };
        if (offset == end) return send("", true);  // an empty range still says size and hash

        // Reading and hashing run on a second thread while this one sends.
        int64_t sent = offset;
        FERRY_RETURN_IF_ERROR(RunPipeline(
            kPipelineDepth,
            [&](ChunkQueue& queue) -> Status {
              for (int64_t pos = offset; pos < end;) {
                size_t want = static_cast<size_t>(std::min<int64_t>(kChunkBytes, end - pos));
                std::string data(want, '\0');
                auto n = ReadFullAt(fd, data.data(), want, pos, "cannot read the file");
                if (!n.ok()) return n.status();
                if (*n != want) return Status::DataLoss("the file shrank while it was being sent");
                if (!known_sha) hash.Update(data.data(), want);
                pos += static_cast<int64_t>(want);
                if (!queue.Push(std::move(data))) return Status::Ok();
              }
              return Status::Ok();
            },
            [&](std::string& data) -> Status {
              sent += static_cast<int64_t>(data.size());
              return send(std::move(data), sent == end);
            }));
        if (!known_sha && offset == 0 && end == size) {
          // Only remember a hash for the version that was read.
          if (auto now = StatFd(fd);
              now.ok() && now->size == size && now->mtime_ns == file->info.mtime_ns) {
            StoreSha256(fd, file->info, chunk.sha256());
          }
        }
        return Status::Ok();
      });
}

}  // namespace ferry
