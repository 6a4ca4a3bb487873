// Partial uploads: where bytes of an upload in progress are kept until the
// whole file has arrived and its SHA-256 checked, and from where a finished
// one is committed into its user's home (Writer::Commit). The folder layout
// below is the store's own: nothing outside uploads.cc builds these paths.
//
// A partial lives in DATA/uploads/<user>/<id>.part, outside the home, so no
// listing ever shows half a file; the id is derived from the user, target path,
// size and the client's resume key, so the same upload retried (even after a
// server crash) finds the bytes already held. Partials unused for `retention`
// are deleted. Thread-safe.
//
// An upload is begun only if its bytes still to come leave the file system
// holding the partials at least its reserve free (SpaceReserve), so one
// upload cannot fill the disk that every user shares. The check is made at
// Begin against what statvfs says then; uploads running at once can still
// meet ENOSPC, which the file service reports and answers by discarding the
// partial.
//
// An upload of unknown size (kUnknownUploadSize) gets a fresh random id, so it
// never resumes, and counts among the partials at what it holds so far; the
// file service checks the reserve (CheckSpace) and the quota before it writes
// each chunk of it.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/rel_path.h"
#include "core/status.h"
#include "core/unique_fd.h"

namespace ferry {

struct DirEntry;
class HomeFs;
struct Published;

// An upload's size when the client does not know it in advance (a pipe).
inline constexpr int64_t kUnknownUploadSize = -1;

struct PendingUpload {
  std::string user;
  RelPath target;
  int64_t size = 0;  // kUnknownUploadSize: learnt when the last message arrives
  bool overwrite = false;
  int64_t mtime_ns = 0;  // given to the published file; 0: the time of the upload
  std::chrono::steady_clock::time_point begun{};
};

// Bytes a write to `path` frees by replacing what is there: the size of an
// existing regular file when `overwrite`, else 0.
int64_t ReplacedBytes(const HomeFs& home, const RelPath& path, bool overwrite);

// How many uploads one user may have begun and not finished at once.
inline constexpr size_t kMaxPendingUploadsPerUser = 1000;

// How much of the data file system uploads leave free: `bytes`, or `fraction`
// of the file system's size, whichever is smaller.
struct SpaceReserve {
  int64_t bytes = int64_t{1} << 30;
  double fraction = 0.05;
  int64_t For(int64_t total_bytes) const;
  // "5%", "2G", "0" (a size as ParseByteSize reads it, or a percentage).
  static Result<SpaceReserve> Parse(std::string_view text);
};

// Size and free space (for unprivileged writers) of a file system.
struct FsSpace {
  int64_t total = 0;
  int64_t available = 0;
};
// Measures the file system holding a directory; a seam for tests.
using SpaceProbe = std::function<Result<FsSpace>(const std::string& dir)>;
Result<FsSpace> StatFsSpace(const std::string& dir);

class UploadStore {
 public:
  UploadStore(std::string dir, std::chrono::seconds retention, SpaceReserve reserve = {},
              SpaceProbe probe = StatFsSpace);

  // Registers an upload and returns its id and the bytes already held (0 for
  // an upload of unknown size); RESOURCE_EXHAUSTED if the user already has too
  // many unfinished uploads, or if the bytes still to come would leave less
  // than the reserve free.
  Result<std::pair<std::string, int64_t>> Begin(PendingUpload upload, const std::string& key);

  // OK if `more` bytes still fit above the reserve; RESOURCE_EXHAUSTED
  // naming the free space and the reserve otherwise.
  Status CheckSpace(int64_t more) const;

  // Bytes `user`'s partial uploads take: what each partial file holds, except
  // that an upload a stream is writing counts at its full announced size (what
  // it will hold), so uploads running at once are all counted in full; whole
  // files of a batch count through their batch's Reservation.
  int64_t PartialBytes(const std::string& user) const;

  // Exclusive use of one upload's partial file while a stream writes it.
  class Writer {
   public:
    Writer(Writer&& o) noexcept
        : store_(std::exchange(o.store_, nullptr)),
          id_(std::move(o.id_)),
          fd_(std::move(o.fd_)),
          upload_(std::move(o.upload_)),
          forget_(o.forget_) {}
    Writer& operator=(Writer&&) = delete;
    Writer(const Writer&) = delete;
    ~Writer();
    int fd() const { return fd_.get(); }
    const PendingUpload& upload() const { return upload_; }
    // Deletes the partial (after a checksum mismatch or a full disk). An
    // upload of unknown size, which cannot resume, is forgotten as well.
    void Discard();
    // Publishes the finished partial as entry `to.leaf` of directory `to.dir`
    // (transfer/publish.h: fsync, rename, fsync of the directory), replacing
    // an existing file only if the upload overwrites, and forgets the upload
    // once it has its new name. When the rename fails (ALREADY_EXISTS: the
    // destination appeared meanwhile) the partial stays for a retry.
    Published Commit(const DirEntry& to);

   private:
    friend class UploadStore;
    Writer(UploadStore* s, std::string id, UniqueFd fd, PendingUpload u)
        : store_(s), id_(std::move(id)), fd_(std::move(fd)), upload_(std::move(u)) {}
    UploadStore* store_;
    std::string id_;
    UniqueFd fd_;
    PendingUpload upload_;
    bool forget_ = false;  // on release, forget the upload (it was discarded and cannot resume)
  };

  // The whole small files of one message (Files.PutFiles): each is written
  // under a fresh name among `user`'s partials, never resumed, and deleted
  // unless moved into place. RemoveStale spares them while the set lives.
  // The set holds the partials' directory open once for all its files.
  class WholeFiles {
   public:
    WholeFiles(WholeFiles&& o) noexcept
        : store_(std::exchange(o.store_, nullptr)),
          dir_(std::move(o.dir_)),
          ids_(std::move(o.ids_)),
          moved_(std::move(o.moved_)) {}
    WholeFiles& operator=(WholeFiles&&) = delete;
    WholeFiles(const WholeFiles&) = delete;
    ~WholeFiles();
    // A new file open for writing, and its number in the set. The caller
    // closes the descriptor once the bytes are written and durable.
    Result<std::pair<size_t, UniqueFd>> Create();
    // Moves file `file`, whose bytes the caller has made durable, to entry
    // `leaf` of directory `dir_fd`, replacing an existing file only if
    // `replace`. The directory is not fsynced: the caller fsyncs each
    // directory once for a batch (transfer/publish.h, Move).
    Published MoveTo(size_t file, int dir_fd, const std::string& leaf, bool replace);

   private:
    friend class UploadStore;
    WholeFiles(UploadStore* s, UniqueFd dir) : store_(s), dir_(std::move(dir)) {}
    UploadStore* store_;
    UniqueFd dir_;  // the user's partials
    std::vector<std::string> ids_;
    std::vector<bool> moved_;
  };
  Result<WholeFiles> OpenWholeFiles(const std::string& user);

  // Bytes set aside for `user` while a batch of whole files is checked,
  // written and moved into place: counted among the user's partials (in
  // place of the batch's WholeFiles) until the reservation ends, so batches
  // written at once cannot together pass the quota.
  class Reservation {
   public:
    Reservation(Reservation&& o) noexcept
        : store_(std::exchange(o.store_, nullptr)), user_(std::move(o.user_)), bytes_(o.bytes_) {}
    Reservation& operator=(Reservation&&) = delete;
    Reservation(const Reservation&) = delete;
    ~Reservation();

   private:
    friend class UploadStore;
    Reservation(UploadStore* s, std::string user, int64_t bytes)
        : store_(s), user_(std::move(user)), bytes_(bytes) {}
    UploadStore* store_;
    std::string user_;
    int64_t bytes_;
  };
  Reservation Reserve(const std::string& user, int64_t bytes);

  // Opens the partial of upload `id` for `user`. NOT_FOUND if no such upload was
  // begun, ABORTED if another stream is writing it.
  Result<Writer> Open(const std::string& user, const std::string& id);

  // Deletes partials and forgets begun uploads older than the retention
  // period, except those being written; returns how many files it deleted.
  int RemoveStale();
  const std::string& dir() const { return dir_; }

 private:
  void Release(const std::string& id, bool forget);
  // The layout: DATA/uploads/<user>/<id>.part.
  std::string UserDir(const std::string& user) const { return dir_ + "/" + user; }
  static std::string PartName(const std::string& id) { return id + ".part"; }
  std::string PartPath(const std::string& user, const std::string& id) const {
    return UserDir(user) + "/" + PartName(id);
  }

  const std::string dir_;
  const std::chrono::seconds retention_;
  const SpaceReserve reserve_;
  const SpaceProbe probe_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, PendingUpload> pending_;  // GUARDED_BY(mu_)
  std::set<std::string> writing_;                           // GUARDED_BY(mu_)
  std::unordered_map<std::string, int64_t> reserved_;       // GUARDED_BY(mu_): user -> bytes
};

}  // namespace ferry
