#include "client/tree_transfer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "client/progress.h"
#include "client/tree_names.h"
#include "client/tree_walk.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "transfer/file_io.h"
#include "transfer/grpc_status.h"
#include "transfer/publish.h"
#include "transfer/rate_limiter.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

// File data per PutFiles message, and messages sent before the first is
// answered: enough to keep both ends busy, little for either to hold.
constexpr size_t kMessageBytes = 1 << 20;
constexpr size_t kMessagesInFlight = 4;

int64_t TotalBytes(const std::vector<TreeFile>& files) {
  int64_t total = 0;
  for (const auto& f : files) total += f.size;
  return total;
}

// Reads a whole small local file into `out` (data, SHA-256, mtime).
Status ReadWhole(const TreeFile& file, v1::WholeFile* out) {
  UniqueFd fd(::open(file.local.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return ErrnoStatus(errno, fmt::format("cannot open '{}'", file.local));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoStatus(errno, fmt::format("cannot stat '{}'", file.local));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition(
        fmt::format("'{}' is no longer a regular file; run again", file.local));
  }
  if (st.st_size > kWholeFileMaxBytes) {
    return Status::FailedPrecondition(
        fmt::format("'{}' grew while uploading; run again", file.local));
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  auto n = ReadFullAt(fd.get(), data.data(), data.size(), 0,
                      fmt::format("cannot read '{}'", file.local));
  if (!n.ok()) return n.status();
  data.resize(*n);
  out->set_sha256(Sha256::HexOf(data));
  out->set_data(std::move(data));
  out->set_mtime_ns(static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
  return Status::Ok();
}

// Uploads `files` (each at most kWholeFileMaxBytes) over one PutFiles call,
// several to a message and a few messages ahead of the server's answers.
// The first failure ends it; the files the server answered are stored.
Status PutWholeFiles(Connection& conn, const std::vector<TreeFile>& files,
                     const TransferOptions& options, TreeProgress& progress) {
  if (files.empty()) return Status::Ok();
  auto ctx = conn.Context(TransferDeadline(TotalBytes(files), options.limit_bytes_per_second));
  auto stream = conn.files().PutFiles(ctx.get());
  RateLimiter limiter(options.limit_bytes_per_second);
  std::deque<std::vector<size_t>> unanswered;  // the files of each message sent
  v1::PutFilesRequest message;
  std::vector<size_t> in_message;
  size_t message_bytes = 0;
  // Waits for the answer to the oldest message: its files are stored.
  auto answered = [&]() -> bool {
    v1::PutFilesResponse answer;
    if (!stream->Read(&answer)) return false;
    for (size_t i : unanswered.front()) {
      progress.Begin(files[i].remote);
      progress.FileDone(files[i].size);
    }
    unanswered.pop_front();
    return true;
  };
  auto send = [&]() -> Status {
    if (!stream->Write(message)) {
      return Status::Aborted("the server ended the upload");
    }
    unanswered.push_back(std::move(in_message));
    in_message.clear();
    message.Clear();
    message_bytes = 0;
    while (unanswered.size() > kMessagesInFlight) {
      if (!answered()) {
        return Status::Aborted("the server ended the upload");
      }
    }
    return Status::Ok();
  };
  Status sent;
  Status local;  // a file that could not be read: the files before it still go
  for (size_t i = 0; i < files.size() && sent.ok(); ++i) {
    v1::WholeFile* file = message.add_files();
    local = ReadWhole(files[i], file);
    if (!local.ok()) {
      message.mutable_files()->RemoveLast();
      break;
    }
    file->set_path(files[i].remote);
    file->set_overwrite(options.overwrite);
    in_message.push_back(i);
    message_bytes += file->data().size();
    limiter.Consume(static_cast<int64_t>(file->data().size()));
    if (message_bytes >= kMessageBytes ||
        message.files_size() >= static_cast<int>(kWholeFilesMax)) {
      sent = send();
    }
  }
  if (sent.ok() && message.files_size() > 0) sent = send();
  if (sent.ok()) {
    stream->WritesDone();
    while (!unanswered.empty() && answered()) {
    }
  }
  FERRY_RETURN_IF_ERROR(FromGrpc(stream->Finish()));  // the server's reason first
  FERRY_RETURN_IF_ERROR(sent);
  FERRY_RETURN_IF_ERROR(local);
  if (!unanswered.empty()) {
    return Status::Unavailable(
        "the server ended the upload before confirming every file; run "
        "again with --force to send the rest");
  }
  return Status::Ok();
}

// Writes one received file whole under `file.local`: verified, fsynced and
// renamed into place; its directory is left to the caller to fsync.
Status WriteWhole(const TreeFile& file, const v1::WholeFile& got, bool overwrite) {
  if (Sha256::HexOf(got.data()) != got.sha256()) {
    return Status::DataLoss(fmt::format(
        "'{}' arrived damaged (SHA-256 mismatch) and was discarded; run again", file.remote));
  }
  struct stat st {};
  if (::lstat(file.local.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return Status::FailedPrecondition(fmt::format("'{}' is a directory", file.local));
    }
    if (!overwrite) {
      return Status::AlreadyExists(
          fmt::format("local file '{}' already exists (use --force to replace it)", file.local));
    }
  }
  const std::string what = fmt::format("cannot write '{}'", file.local);
  auto pending = PendingFile::Create(file.local, 0644);
  if (!pending.ok()) return pending.status();
  FERRY_RETURN_IF_ERROR(WriteFullAt(pending->fd(), got.data().data(), got.data().size(), 0, what));
  (void)SetModificationTime(pending->fd(), got.mtime_ns(), what);  // a time left is no loss
  Published published = pending->Commit(overwrite, what, /*sync_directory=*/false);
  if (published.error == EEXIST) {
    return Status::AlreadyExists(
        fmt::format("local file '{}' already exists (use --force to replace it)", file.local));
  }
  return published.status;
}

Status SyncDirectories(const std::set<std::string>& dirs) {
  for (const auto& dir : dirs) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || ::fsync(fd.get()) != 0) {
      return ErrnoStatus(errno, fmt::format("cannot make the files in '{}' durable", dir));
    }
  }
  return Status::Ok();
}

// Downloads `files` (each at most kWholeFileMaxBytes) over GetFiles calls of
// at most kWholeFilesMax files; each call's directories are fsynced before
// the next begins.
Status GetWholeFiles(Connection& conn, const std::vector<TreeFile>& files,
                     const TransferOptions& options, TreeProgress& progress) {
  RateLimiter limiter(options.limit_bytes_per_second);
  for (size_t begin = 0; begin < files.size(); begin += kWholeFilesMax) {
    size_t end = std::min(files.size(), begin + kWholeFilesMax);
    v1::GetFilesRequest req;
    int64_t bytes = 0;
    for (size_t i = begin; i < end; ++i) {
      req.add_paths(files[i].remote);
      bytes += files[i].size;
    }
    auto ctx = conn.Context(TransferDeadline(bytes, options.limit_bytes_per_second));
    auto reader = conn.files().GetFiles(ctx.get(), req);
    v1::GetFilesResponse reply;
    std::set<std::string> dirs;
    size_t next = begin;
    Status written;
    while (written.ok() && reader->Read(&reply)) {
      for (const auto& got : reply.files()) {
        if (next >= end || got.path() != files[next].remote) {
          written = Status::Internal("the server sent a file that was not asked for");
          break;
        }
        written = WriteWhole(files[next], got, options.overwrite);
        if (!written.ok()) break;
        dirs.insert(std::filesystem::path(files[next].local).parent_path().string());
        progress.Begin(files[next].remote);
        progress.FileDone(static_cast<int64_t>(got.data().size()));
        limiter.Consume(static_cast<int64_t>(got.data().size()));
        next++;
      }
    }
    if (!written.ok()) {
      ctx->TryCancel();
      (void)reader->Finish();
    } else {
      written = FromGrpc(reader->Finish());
    }
    // What was written stays, durable, whatever ended the call.
    Status synced = SyncDirectories(dirs);
    FERRY_RETURN_IF_ERROR(written);
    FERRY_RETURN_IF_ERROR(synced);
    if (next != end) {
      return Status::Unavailable("the server ended the download early; run again with --force");
    }
  }
  return Status::Ok();
}

// The directories and files of a tree.
struct TreePlan {
  std::vector<std::string> dirs;  // relative, parents first
  std::vector<TreeFile> files;
};

TreePlan Plan(const Tree& tree, const std::string& local, const std::string& remote) {
  TreePlan plan;
  for (const auto& [rel, node] : tree) {
    if (node.dir) {
      plan.dirs.push_back(rel);
    } else {
      plan.files.push_back({local + "/" + rel, JoinRemote(remote, rel), node.size});
    }
  }
  return plan;
}

// Small files first, in batches, then the large ones, whose own bars move
// the tree's.
template <typename Batch, typename One>
Status MoveFiles(const std::vector<TreeFile>& files, const TransferOptions& options,
                 const std::string& root, Batch&& batch, One&& one) {
  std::vector<TreeFile> small, large;
  int64_t bytes = 0;
  for (const auto& f : files) {
    (f.size <= kWholeFileMaxBytes ? small : large).push_back(f);
    bytes += f.size;
  }
  TreeProgress progress(options.progress ? options.progress(root, bytes) : nullptr, root,
                        static_cast<int64_t>(files.size()));
  FERRY_RETURN_IF_ERROR(batch(small, progress));
  TransferOptions each = options;
  each.progress = [&progress](const std::string&, int64_t) { return progress.FileBar(); };
  for (const auto& file : large) {
    progress.Begin(file.remote);
    FERRY_RETURN_IF_ERROR(one(file, each));
    progress.FileDone(file.size);
  }
  progress.Finish();
  return Status::Ok();
}

}  // namespace

Status UploadFiles(Connection& conn, const std::vector<TreeFile>& files,
                   const TransferOptions& options, const std::string& root) {
  return MoveFiles(
      files, options, root,
      [&](const std::vector<TreeFile>& small, TreeProgress& progress) {
        return PutWholeFiles(conn, small, options, progress);
      },
      [&](const TreeFile& file, const TransferOptions& each) {
        return UploadFile(conn, file.local, file.remote, each);
      });
}

Status DownloadFiles(Connection& conn, const std::vector<TreeFile>& files,
                     const TransferOptions& options, const std::string& root) {
  return MoveFiles(
      files, options, root,
      [&](const std::vector<TreeFile>& small, TreeProgress& progress) {
        return GetWholeFiles(conn, small, options, progress);
      },
      [&](const TreeFile& file, const TransferOptions& each) {
        return DownloadFile(conn, file.remote, file.local, each);
      });
}

Status UploadTree(Connection& conn, const std::string& local, const std::string& remote,
                  const TransferOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(std::filesystem::symlink_status(local, ec))) {
    return UploadFile(conn, local, remote, options);
  }
  // Every name first: one the server refuses must not stop the tree halfway.
  FERRY_RETURN_IF_ERROR(CheckLocalTreeNames(local, remote));
  auto tree = LocalTree(local, "put -r sent nothing");
  if (!tree.ok()) return tree.status();
  TreePlan plan = Plan(*tree, local, remote);
  FERRY_RETURN_IF_ERROR(MakeRemoteDirectory(conn, remote, true));
  for (const auto& rel : plan.dirs) {
    FERRY_RETURN_IF_ERROR(MakeRemoteDirectory(conn, JoinRemote(remote, rel), true));
  }
  return UploadFiles(conn, plan.files, options, remote);
}

Status DownloadTree(Connection& conn, const std::string& remote, const std::string& local,
                    const TransferOptions& options) {
  auto info = StatRemote(conn, remote, false);
  if (!info.ok()) return info.status();
  if (info->entry().type() != v1::FILE_TYPE_DIRECTORY) {
    return DownloadFile(conn, remote, local, options);
  }
  // Every name first, so a name that cannot be written does not leave half a
  // tree; each is checked again as it is written, should the tree change.
  auto tree = RemoteTree(conn, remote, "get -r wrote nothing");
  if (!tree.ok()) return tree.status();
  TreePlan plan = Plan(*tree, local, remote);
  for (const std::string& dir : [&] {
         std::vector<std::string> all = {local};
         for (const auto& rel : plan.dirs) all.push_back(local + "/" + rel);
         return all;
       }()) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, fmt::format("cannot create '{}'", dir));
    }
  }
  return DownloadFiles(conn, plan.files, options, remote);
}

}  // namespace ferry
