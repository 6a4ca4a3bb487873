#include "server/whole_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/display_text.h"
#include "core/sha256.h"
#include "transfer/file_io.h"
#include "transfer/hash_cache.h"
#include "transfer/publish.h"

namespace ferry {
namespace {

// Data of a GetFiles reply message before it is sent.
constexpr size_t kReplyBytes = 1 << 20;

// The audit record of one file of a batch, as its own call would leave.
AuditRecord FileRecord(const WholeFilesCaller& c, const char* operation, const RelPath& path,
                       const Status& outcome, int64_t bytes) {
  AuditRecord r;
  r.time_us = AuditNowUs();
  r.user = c.call.user();
  r.remote = c.audit.remote();
  r.operation = operation;
  r.path = path.Display();
  r.result = outcome.ToString();
  r.code = outcome.code();
  r.bytes = bytes;
  return r;
}

// One file of a PutFiles message, checked, then written under its partial name.
struct Staged {
  RelPath path;
  const v1::WholeFile* wire = nullptr;
  int64_t replaced = 0;    // bytes of the file it replaces, as checked before writing
  size_t file = SIZE_MAX;  // its number in the message's UploadStore::WholeFiles
};

// Directories opened at once while a message's files are moved into place;
// past it, those open are fsynced and closed, so that a message spread over
// many directories cannot hold many descriptors.
constexpr size_t kOpenDirectories = 64;

// What the message as a whole must be before any file of it is stored.
Status CheckMessage(const v1::PutFilesRequest& req) {
  if (req.files_size() > kWholeFilesMax) {
    return Status::InvalidArgument(
        fmt::format("a message of a batch names at most {} files", kWholeFilesMax));
  }
  for (const auto& f : req.files()) {
    if (static_cast<int64_t>(f.data().size()) > kWholeFileMaxBytes) {
      return Status::InvalidArgument(fmt::format(
          "'{}': a file in a batch holds at most 1 MiB; send it with Upload; nothing of this "
          "message was stored",
          ForDisplay(f.path().substr(0, 256))));
    }
    if (f.mtime_ns() < 0) {
      return Status::InvalidArgument(
          "negative modification time; nothing of this message was stored");
    }
  }
  return Status::Ok();
}

// Everything that can be said of a file before a byte of it is written.
// `parents` holds the directories already found for this message.
Result<Staged> Check(const WholeFilesCaller& c, const v1::WholeFile& f,
                     std::set<std::string>& parents) {
  auto path = RelPath::Parse(f.path());
  if (!path.ok()) return path.status();
  if (path->IsRoot()) return Status::InvalidArgument("an upload needs a file name");
  const std::string shown = path->Display();
  if (!IsSha256Hex(f.sha256())) {
    return Status::InvalidArgument(fmt::format("'{}' comes without its SHA-256", shown));
  }
  if (Sha256::HexOf(f.data()) != LowerHex(f.sha256())) {
    return Status::DataLoss(fmt::format(
        "checksum mismatch for '{}': the data was damaged in transit; it was not stored", shown));
  }
  Staged staged{std::move(path).value(), &f, 0, SIZE_MAX};
  auto info = c.home.Stat(staged.path);
  if (info.ok()) {
    if (info->type == FileType::kDirectory) {
      return Status::FailedPrecondition(fmt::format("'{}' is a directory", shown));
    }
    if (!f.overwrite()) {
      return Status::AlreadyExists(
          fmt::format("'{}' already exists (use --force to replace it)", shown));
    }
    staged.replaced = info->type == FileType::kFile ? info->size : 0;
  } else if (info.status().code() != Code::kNotFound) {
    return info.status();
  } else if (std::string parent = staged.path.Parent().Relative(); !parents.contains(parent)) {
    // Its directory must exist, as for BeginUpload: found once per message.
    auto dir = c.home.OpenParent(staged.path);
    if (!dir.ok()) return dir.status();
    parents.insert(std::move(parent));
  }
  return staged;
}

// Writes the file's bytes under a partial name of `files`, with its mode,
// time and cached hash, and makes them durable; its descriptor is closed.
Status Write(UploadStore::WholeFiles& files, Staged& s) {
  auto created = files.Create();
  if (!created.ok()) return created.status();
  const int fd = created->second.get();
  const std::string what = "cannot store the upload";
  const std::string& data = s.wire->data();
  Status written = WriteFullAt(fd, data.data(), data.size(), 0, what);
  if (written.ok() && ::fchmod(fd, 0644) != 0) written = ErrnoStatus(errno, what);
  if (written.ok()) written = SetModificationTime(fd, s.wire->mtime_ns(), what);
  if (written.ok()) {
    // The rename keeps inode, size and time: the cached hash stays valid.
    if (auto info = StatFd(fd); info.ok()) StoreSha256(fd, *info, LowerHex(s.wire->sha256()));
    if (::fsync(fd) != 0) written = ErrnoStatus(errno, what);
  }
  if (written.code() == Code::kResourceExhausted) {
    return Status::ResourceExhausted(
        fmt::format("no space left on the server: '{}' was not stored; free some space or ask the "
                    "server's administrator",
                    s.path.Display()));
  }
  FERRY_RETURN_IF_ERROR(written);
  s.file = created->first;
  return Status::Ok();
}

// fsyncs and closes the directories that received files.
void SyncDirectories(const WholeFilesCaller& c, std::map<std::string, UniqueFd>& dirs) {
  for (auto& [parent, fd] : dirs) {
    // The files are in place; what is at stake is the durability of their
    // names, as for a single upload: log it.
    if (Status s = SyncDirectory(fd.get()); !s.ok()) {
      spdlog::warn("uploads into '/{}' by '{}': {}", parent == "." ? "" : parent, c.call.user(),
                   s.ToString());
    }
  }
  dirs.clear();
}

// Stores the files of one message in order; returns the first failure, with
// the files before it stored, durable and on record, and counts them in
// `stored`.
Status StoreMessage(const WholeFilesCaller& c, const v1::PutFilesRequest& req, int& stored) {
  FERRY_RETURN_IF_ERROR(CheckMessage(req));
  const std::string& user = c.call.user();
  std::vector<Staged> staged;
  std::set<std::string> parents;
  Status failed;
  std::optional<RelPath> failed_path;
  int64_t bytes = 0;
  int64_t replaced = 0;
  for (const auto& f : req.files()) {
    auto s = Check(c, f, parents);
    if (!s.ok()) {
      failed = s.status();
      if (auto p = RelPath::Parse(f.path()); p.ok()) failed_path = *p;
      break;
    }
    bytes += static_cast<int64_t>(f.data().size());
    replaced += s->replaced;
    staged.push_back(std::move(s).value());
  }
  // Room is checked once for the message: it is stored whole or refused
  // whole. Its bytes are reserved first, so that they count among the user's
  // partials for every other check until its files are in place.
  auto reserved = c.state.uploads.Reserve(user, bytes);
  std::optional<UploadStore::WholeFiles> files;
  if (!staged.empty()) {
    Status room = c.state.quotas.CheckRoom(user, -replaced);
    if (room.ok()) room = c.state.uploads.CheckSpace(bytes);
    if (!room.ok()) return room;
    auto opened = c.state.uploads.OpenWholeFiles(user);
    if (!opened.ok()) return opened.status();
    files.emplace(std::move(opened).value());
  }
  for (size_t i = 0; i < staged.size(); ++i) {
    if (Status s = Write(*files, staged[i]); !s.ok()) {
      failed = s;
      failed_path = staged[i].path;
      staged.resize(i);
      break;
    }
  }

  std::vector<AuditRecord> records;
  // Each directory is opened once and fsynced once, after its last rename.
  std::map<std::string, UniqueFd> dirs;
  {
    std::vector<PathLocks::Target> targets;
    for (const auto& s : staged) targets.push_back({s.path, true});
    auto held = c.state.locks.Lock(user, targets);
    // Once per message: asking a synchronous call costs a round on its queue.
    if (!staged.empty() && c.ctx->IsCancelled()) {
      failed = Status::Cancelled("the client cancelled the call");
      failed_path.reset();
      staged.clear();
    }
    for (auto& s : staged) {
      std::string parent = s.path.Parent().Relative();
      auto dir = dirs.find(parent);
      if (dir == dirs.end()) {
        if (dirs.size() >= kOpenDirectories) SyncDirectories(c, dirs);
        auto opened = c.home.OpenDirectory(s.path.Parent());
        if (!opened.ok()) {
          failed = opened.status();
          failed_path = s.path;
          break;
        }
        dir = dirs.emplace(parent, std::move(opened).value()).first;
      }
      const bool overwrite = s.wire->overwrite();
      int64_t freed = ReplacedBytes(c.home, s.path, overwrite);
      Published moved = files->MoveTo(s.file, dir->second.get(), s.path.Leaf(), overwrite);
      if (!moved.moved) {
        failed = moved.error == EEXIST
                     ? Status::AlreadyExists(
                           fmt::format("'{}' appeared while uploading (use --force to replace it)",
                                       s.path.Display()))
                     : (moved.error != 0 ? PathError(moved.error, s.path.Display()) : moved.status);
        failed_path = s.path;
        break;
      }
      int64_t size = static_cast<int64_t>(s.wire->data().size());
      c.state.quotas.Adjust(user, size - freed);
      records.push_back(FileRecord(c, "upload", s.path, Status::Ok(), size));
      c.audit.add_bytes(size);
      stored++;
    }
  }
  SyncDirectories(c, dirs);
  if (!failed.ok() && failed_path) {
    records.push_back(FileRecord(c, "upload", *failed_path, failed, 0));
  }
  // Queued together, the records go into the log in one transaction.
  for (auto& w : c.state.audit.RecordDurable(std::move(records))) {
    if (Status s = w.get(); !s.ok() && failed.ok()) failed = s;
  }
  return failed;
}

}  // namespace

Status ReceiveWholeFiles(
    const WholeFilesCaller& c,
    grpc::ServerReaderWriter<v1::PutFilesResponse, v1::PutFilesRequest>* stream) {
  v1::PutFilesRequest req;
  int stored = 0;
  while (stream->Read(&req)) {
    c.call.Progress();
    Status s = StoreMessage(c, req, stored);
    c.audit.set_path(fmt::format("{} files", stored));
    if (!s.ok()) return s;
    v1::PutFilesResponse resp;
    resp.set_stored(req.files_size());
    if (!stream->Write(resp)) return Status::Cancelled("the client went away");
  }
  return Status::Ok();
}

Status SendWholeFiles(const WholeFilesCaller& c, const v1::GetFilesRequest& req,
                      grpc::ServerWriter<v1::GetFilesResponse>* writer) {
  if (req.paths_size() > kWholeFilesMax) {
    return Status::InvalidArgument(
        fmt::format("a batch names at most {} files; ask for the rest in another", kWholeFilesMax));
  }
  const std::string& user = c.call.user();
  v1::GetFilesResponse reply;
  size_t pending = 0;
  int sent = 0;
  auto flush = [&]() -> Status {
    if (reply.files_size() == 0) return Status::Ok();
    if (!writer->Write(reply)) return Status::Cancelled("the client went away");
    c.call.Progress();
    reply.Clear();
    pending = 0;
    return Status::Ok();
  };
  for (const auto& raw : req.paths()) {
    auto path = RelPath::Parse(raw);
    if (!path.ok()) return path.status();
    // Locked only while opening, as Download: the open descriptor keeps this
    // version readable even if an upload replaces the name meanwhile.
    Result<OpenFile> file = [&] {
      auto lock = c.state.locks.Read(user, *path);
      return c.home.OpenForRead(*path);
    }();
    if (!file.ok()) return file.status();
    if (file->info.size > kWholeFileMaxBytes) {
      return Status::FailedPrecondition(
          fmt::format("'{}' holds more than 1 MiB; download it with Download", path->Display()));
    }
    if (pending > 0 && pending + static_cast<size_t>(file->info.size) > kReplyBytes) {
      FERRY_RETURN_IF_ERROR(flush());
    }
    std::string data(static_cast<size_t>(file->info.size), '\0');
    auto n = ReadFullAt(file->fd.get(), data.data(), data.size(), 0, "cannot read the file");
    if (!n.ok()) return n.status();
    data.resize(*n);
    int64_t size = static_cast<int64_t>(data.size());
    v1::WholeFile* w = reply.add_files();
    w->set_path(raw);
    w->set_sha256(Sha256::HexOf(data));
    w->set_data(std::move(data));
    w->set_mtime_ns(file->info.mtime_ns);
    w->set_mode(file->info.mode);
    pending += static_cast<size_t>(size);
    c.state.audit.Record(FileRecord(c, "download", *path, Status::Ok(), size));
    c.audit.add_bytes(size);
    sent++;
    c.audit.set_path(fmt::format("{} files", sent));
  }
  return flush();
}

}  // namespace ferry
