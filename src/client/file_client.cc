#include "client/file_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "client/partial_mark.h"
#include "client/progress.h"
#include "client/tree_names.h"
#include "core/rel_path.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "transfer/chunk_pipeline.h"
#include "transfer/file_io.h"
#include "transfer/file_sink.h"
#include "transfer/file_source.h"
#include "transfer/publish.h"
#include "transfer/rate_limiter.h"

namespace ferry {
namespace {

constexpr auto kUnaryTimeout = std::chrono::seconds(60);
constexpr size_t kPipelineDepth = 2;
// More entries than any real directory has; bounds the memory a server can make
// a listing take.
constexpr size_t kMaxListEntries = 1'000'000;

// Transfer deadlines assume at least this rate (or half the --limit-rate)...
constexpr int64_t kSlowestBytesPerSecond = 64 * 1024;
// ...and a download, whose size is unknown when its deadline is set, at most this size.
constexpr int64_t kLargestDownloadBytes = int64_t{1} << 40;
// Beyond this a deadline means nothing, and system_clock::now() + it must not overflow.
constexpr int64_t kLongestDeadlineSeconds = int64_t{10} * 366 * 24 * 3600;

std::unique_ptr<Progress> MakeProgress(const TransferOptions& o, const std::string& label,
                                       int64_t total) {
  if (o.progress) {
    if (auto p = o.progress(label, total)) return p;
  }
  return std::make_unique<Progress>();
}

// The source's identity, so a retried upload of an unchanged file resumes.
std::string ResumeKey(const std::string& local, const struct stat& st) {
  char resolved[PATH_MAX];
  std::string where = ::realpath(local.c_str(), resolved) ? resolved : local;
  return Sha256::HexOf(fmt::format("{}\n{}\n{}\n{}.{}", where, st.st_size, st.st_ino,
                                   st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
}

void Notify(const TransferOptions& o, const std::string& message) {
  if (o.notify) o.notify(message);
}

// Moves the verified `part` into place as `local` (they share a directory).
// On failure the .part keeps its mark: the next run resumes it and only
// publishes.
Status PublishDownload(int fd, const std::string& part, const std::string& local, bool replace) {
  std::filesystem::path where = std::filesystem::path(local).parent_path();
  std::string part_name = std::filesystem::path(part).filename();
  std::string local_name = std::filesystem::path(local).filename();
  if (where.empty()) where = ".";
  UniqueFd dir(::open(where.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, fmt::format("cannot open '{}'", where.string()));
  Published published = Publish(fd, {dir.get(), part_name, dir.get(), local_name, replace},
                                fmt::format("cannot move '{}' into place as '{}'", part, local));
  return published.status;
}

}  // namespace

std::chrono::seconds TransferDeadline(int64_t bytes, int64_t limit_bytes_per_second) {
  // Half the limit: the limiter averages over the whole transfer, but a slow
  // start or a slow server can leave it well below the limit for a while.
  int64_t rate = kSlowestBytesPerSecond;
  if (limit_bytes_per_second > 0) {
    rate = std::clamp<int64_t>(limit_bytes_per_second / 2, 1, kSlowestBytesPerSecond);
  }
  // Capped before adding, so no sum can overflow.
  int64_t sending = std::min(std::max<int64_t>(bytes, 0) / rate, kLongestDeadlineSeconds);
  return std::chrono::seconds(std::min(121 + sending, kLongestDeadlineSeconds));
}

std::chrono::seconds DownloadDeadline(int64_t limit_bytes_per_second) {
  // The size arrives with the first message, after the deadline is set, so
  // assume the largest file: 1 TiB at 64 KiB/s (or half the limit) is about 194
  // days. Never less than 7 days, so neither a rate limit nor a slow link ends a
  // large download that is still moving; the deadline only ends one that hangs.
  return std::max<std::chrono::seconds>(
      std::chrono::hours(7 * 24), TransferDeadline(kLargestDownloadBytes, limit_bytes_per_second));
}

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string JoinRemote(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == ".") return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

namespace {

// Reads a List or Glob stream, keeping at most kMaxListEntries entries.
Result<std::vector<v1::FileEntry>> ReadEntries(grpc::ClientContext& ctx,
                                               grpc::ClientReader<v1::ListResponse>& reader,
                                               const std::string& path) {
  std::vector<v1::FileEntry> out;
  v1::ListResponse batch;
  while (reader.Read(&batch)) {
    if (static_cast<size_t>(batch.entries_size()) > kMaxListEntries - out.size()) {
      ctx.TryCancel();
      while (reader.Read(&batch)) {
      }
      (void)reader.Finish();
      return Status::ResourceExhausted(fmt::format(
          "'{}' has more than {} entries, more than ferry lists", path, kMaxListEntries));
    }
    for (auto& e : *batch.mutable_entries()) out.push_back(std::move(e));
  }
  FERRY_RETURN_IF_ERROR(FromGrpc(reader.Finish()));
  return out;
}

}  // namespace

Result<std::vector<v1::FileEntry>> ListRemote(Connection& conn, const std::string& path) {
  auto ctx = conn.Context(kUnaryTimeout);
  v1::ListRequest req;
  req.set_path(path);
  auto reader = conn.files().List(ctx.get(), req);
  return ReadEntries(*ctx, *reader, path);
}

Result<std::vector<v1::FileEntry>> GlobRemote(Connection& conn, const std::string& pattern) {
  auto ctx = conn.Context(kUnaryTimeout);
  v1::GlobRequest req;
  req.set_pattern(pattern);
  auto reader = conn.files().Glob(ctx.get(), req);
  return ReadEntries(*ctx, *reader, pattern);
}

Result<v1::StatResponse> StatRemote(Connection& conn, const std::string& path, bool sha256) {
  auto ctx = conn.Context(sha256 ? std::chrono::seconds(3600) : kUnaryTimeout);
  v1::StatRequest req;
  req.set_path(path);
  req.set_sha256(sha256);
  v1::StatResponse resp;
  FERRY_RETURN_IF_ERROR(FromGrpc(conn.files().Stat(ctx.get(), req, &resp)));
  return resp;
}

Status MakeRemoteDirectory(Connection& conn, const std::string& path, bool parents) {
  auto ctx = conn.Context(kUnaryTimeout);
  v1::MakeDirectoryRequest req;
  req.set_path(path);
  req.set_parents(parents);
  v1::Empty resp;
  return FromGrpc(conn.files().MakeDirectory(ctx.get(), req, &resp));
}

Status TouchRemote(Connection& conn, const std::string& path) {
  auto ctx = conn.Context(kUnaryTimeout);
  v1::TouchRequest req;
  req.set_path(path);
  v1::Empty resp;
  return FromGrpc(conn.files().Touch(ctx.get(), req, &resp));
}

Status RemoveRemote(Connection& conn, const std::string& path, bool recursive) {
  auto ctx = conn.Context(std::chrono::seconds(600));
  v1::RemoveRequest req;
  req.set_path(path);
  req.set_recursive(recursive);
  v1::Empty resp;
  return FromGrpc(conn.files().Remove(ctx.get(), req, &resp));
}

Status RenameRemote(Connection& conn, const std::string& from, const std::string& to,
                    bool overwrite) {
  auto ctx = conn.Context(kUnaryTimeout);
  v1::RenameRequest req;
  req.set_from(from);
  req.set_to(to);
  req.set_overwrite(overwrite);
  v1::Empty resp;
  return FromGrpc(conn.files().Rename(ctx.get(), req, &resp));
}

Result<v1::HeadResponse> HeadRemote(Connection& conn, const std::string& path, int64_t length) {
  auto ctx = conn.Context(kUnaryTimeout);
  v1::HeadRequest req;
  req.set_path(path);
  req.set_length(length);
  v1::HeadResponse resp;
  FERRY_RETURN_IF_ERROR(FromGrpc(conn.files().Head(ctx.get(), req, &resp)));
  return resp;
}

Status UploadFile(Connection& conn, const std::string& local, const std::string& remote,
                  const TransferOptions& options) {
  UniqueFd fd(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, fmt::format("cannot open '{}'", local));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return ErrnoStatus(errno, fmt::format("cannot stat '{}'", local));
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a regular file{}", local,
                    S_ISDIR(st.st_mode) ? " (use -r for directories)" : ""));
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

  v1::BeginUploadRequest begin;
  begin.set_path(remote);
  begin.set_size(st.st_size);
  begin.set_resume_key(ResumeKey(local, st));
  begin.set_overwrite(options.overwrite);
  // The remote file keeps the local one's time, as a download does the other way.
  begin.set_mtime_ns(static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
  v1::BeginUploadResponse begun;
  {
    auto ctx = conn.Context(kUnaryTimeout);
    FERRY_RETURN_IF_ERROR(FromGrpc(conn.files().BeginUpload(ctx.get(), begin, &begun)));
  }
  int64_t offset = begun.offset();
  if (offset < 0 || offset > st.st_size) return Status::Internal("server sent a bad resume offset");
  Sha256 hash;
  FERRY_RETURN_IF_ERROR(HashFile(fd.get(), offset, hash));

  if (offset > 0) {
    Notify(options, fmt::format("resuming upload of '{}' at byte {} of {}", remote, offset,
                                static_cast<int64_t>(st.st_size)));
  }
  auto progress = MakeProgress(options, remote, st.st_size);
  progress->Update(offset);
  RateLimiter limiter(options.limit_bytes_per_second);
  auto ctx = conn.Context(TransferDeadline(st.st_size - offset, options.limit_bytes_per_second));
  v1::UploadResponse resp;
  auto writer = conn.files().Upload(ctx.get(), &resp);
  v1::UploadChunk message;
  message.set_upload_id(begun.upload_id());
  message.set_offset(offset);
  const int64_t size = st.st_size;
  // Send one message; the last carries the whole file's hash and half-closes.
  // A failed write means the server ended the call: Finish says why.
  bool server_ended = false;
  auto send = [&](std::string& data, bool last) -> Status {
    message.mutable_data()->swap(data);  // lent to the message, returned below for reuse
    grpc::WriteOptions wo;
    if (last) {
      message.set_sha256(hash.FinishHex());
      wo.set_last_message();
    }
    bool written = writer->Write(message, wo);
    message.mutable_data()->swap(data);
    if (!written) {
      server_ended = true;
      return Status::Aborted("the server ended the upload");
    }
    message.clear_upload_id();
    message.clear_offset();
    return Status::Ok();
  };
  Status sent;
  if (offset == size) {
    std::string nothing;
    sent = send(nothing, true);
  } else {
    SourceOptions source;
    source.running_hash = &hash;
    source.read_error = "cannot read the local file";
    source.shrank_error = fmt::format("'{}' shrank while uploading", local);
    sent = ReadChunks(fd.get(), offset, size, source, [&](Chunk& chunk) -> Status {
      int64_t done = chunk.offset + static_cast<int64_t>(chunk.data.size());
      FERRY_RETURN_IF_ERROR(send(chunk.data, done == size));
      progress->Update(done);
      limiter.Consume(static_cast<int64_t>(chunk.data.size()));
      return Status::Ok();
    });
  }
  FERRY_RETURN_IF_ERROR(FinishUpload(*ctx, *writer, sent, server_ended));
  progress->Finish();
  return Status::Ok();
}

Status FinishUpload(grpc::ClientContext& ctx, grpc::ClientWriter<v1::UploadChunk>& writer,
                    const Status& sent, bool server_ended) {
  if (!sent.ok() && !server_ended) {
    // A local failure (the source shrank, a read error): the server still
    // waits for data, so end the call rather than wait for its deadline.
    ctx.TryCancel();
    (void)writer.Finish();
    return sent;
  }
  Status finished = FromGrpc(writer.Finish());
  if (!finished.ok()) return finished;  // the server's reason beats "ended the upload"
  return sent;
}

Status DownloadFile(Connection& conn, const std::string& remote, const std::string& local,
                    const TransferOptions& options) {
  struct stat st {};
  if (::stat(local.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return Status::FailedPrecondition(fmt::format("'{}' is a directory", local));
    if (!options.overwrite) {
      return Status::AlreadyExists(
          fmt::format("local file '{}' already exists (use --force to replace it)", local));
    }
  }
  std::string part = local + ".part";
  const PartialMark wanted{conn.server(), remote};
  for (int attempt = 0;; ++attempt) {
    auto opened = OpenPartial(part, wanted, options.overwrite);
    if (!opened.ok()) return opened.status();
    PartialFile& partial = *opened;
    const int fd = partial.fd.get();
    if (partial.replaced) {
      Notify(options, fmt::format("replaced '{}', which was not ferry's partial download", part));
    }
    const int64_t start = partial.length;
    auto opened_sink = FileSink::Resume(fd, start, "cannot write the local file");
    if (!opened_sink.ok()) return opened_sink.status();
    FileSink& sink = *opened_sink;
    if (start > 0) {
      Notify(options, fmt::format("resuming download of '{}' at byte {}", remote, start));
    }
    RateLimiter limiter(options.limit_bytes_per_second);

    v1::DownloadRequest req;
    req.set_path(remote);
    req.set_offset(start);
    req.set_chunk_sha256(options.verify_chunks);
    auto ctx = conn.Context(DownloadDeadline(options.limit_bytes_per_second));
    auto reader = conn.files().Download(ctx.get(), req);
    std::unique_ptr<Progress> progress;
    int64_t mtime_ns = 0;
    std::string server_sha;
    bool stale = false;  // the partial holds a prefix of another version
    // The network side (TLS, parsing) runs on a second thread while this one
    // writes and hashes. It vets what the server says before passing data on,
    // so nothing past the announced size is ever written.
    Status written = RunPipeline(
        kPipelineDepth,
        [&](ChunkQueue& queue) -> Status {
          v1::DownloadChunk message;
          auto stop = [&] {
            ctx->TryCancel();
            while (reader->Read(&message)) {
            }
          };
          bool first = true;
          while (reader->Read(&message)) {
            if (first) {
              first = false;
              if (message.size() < 0) {
                stop();
                return Status::DataLoss(
                    fmt::format("the server announced a negative size for '{}'", remote));
              }
              mtime_ns = message.mtime_ns();
              // An empty partial only needs its mark brought up to date.
              if (!sink.ExpectSize(message.size()) ||
                  (start > 0 && !SameVersion(partial.mark, message.size(), mtime_ns))) {
                stale = true;
                stop();
                return Status::Ok();
              }
              // Before any byte of this version is written, so a later run
              // can tell whether the remote file changed in between.
              if (partial.marked &&
                  (partial.mark.size != message.size() || partial.mark.mtime_ns != mtime_ns)) {
                partial.mark.size = message.size();
                partial.mark.mtime_ns = mtime_ns;
                auto marked = WriteMark(fd, partial.mark);
                if (!marked.ok()) {
                  stop();
                  return marked.status();
                }
              }
            }
            if (!message.sha256().empty()) server_sha = message.sha256();
            if (message.data().empty()) continue;
            if (!sink.Admit(static_cast<int64_t>(message.data().size()))) {
              stop();
              return Status::DataLoss(fmt::format(
                  "download of '{}': the server sent more than the file's size", remote));
            }
            Chunk chunk;
            chunk.data = queue.TakeBuffer();
            chunk.data.swap(*message.mutable_data());
            chunk.sha256 = message.chunk_sha256();
            if (!queue.Push(std::move(chunk))) {
              stop();  // the writer failed
              return Status::Ok();
            }
          }
          return Status::Ok();
        },
        [&](Chunk& chunk) -> Status {
          if (!progress) {
            progress = MakeProgress(options, remote, sink.size());
            progress->Update(start);  // this run starts here: a resumed part is not counted
          }
          FERRY_RETURN_IF_ERROR(sink.Write(chunk));
          progress->Update(sink.written());
          limiter.Consume(static_cast<int64_t>(chunk.data.size()));
          return Status::Ok();
        });
    Status s = FromGrpc(reader->Finish());
    if (!written.ok()) s = written;  // a local error or a misbehaving server explains a cancel
    if ((stale || (s.code() == Code::kOutOfRange && start > 0)) && attempt == 0) {
      // The partial is of another version of the remote file (or longer than
      // it): the partial is ferry's own, so start over from byte 0.
      Notify(options,
             fmt::format("'{}' changed since the partial download; starting over", remote));
      ::unlink(part.c_str());
      continue;
    }
    if (stale)
      s = Status::Aborted(fmt::format("'{}' changed during the download; run again", remote));
    // Leave no empty .part behind, nor one that could not be marked: a later
    // run would not resume it but refuse it as someone else's.
    if (!s.ok() && (sink.written() == 0 || !partial.marked)) ::unlink(part.c_str());
    if (!s.ok()) return s;
    if (server_sha.empty() || !sink.complete()) {
      if (!partial.marked) ::unlink(part.c_str());
      return Status::DataLoss(
          fmt::format("download of '{}' ended early; run again to resume", remote));
    }
    if (!sink.Matches(server_sha)) {
      ::unlink(part.c_str());
      if (attempt == 0 && start > 0) continue;  // a stale partial: fetch it all again
      return Status::DataLoss(fmt::format(
          "'{}' arrived damaged (SHA-256 mismatch) and was discarded; run again", remote));
    }
    (void)SetModificationTime(fd, mtime_ns, "");  // the bytes matter; a time left is no loss
    FERRY_RETURN_IF_ERROR(PublishDownload(fd, part, local, options.overwrite));
    // Only once it is in place: a finished file must not pass for a partial
    // (were it named x.part, a later `get x` would see ferry's mark on it).
    RemoveMark(fd);
    if (progress) progress->Finish();
    return Status::Ok();
  }
}

}  // namespace ferry
