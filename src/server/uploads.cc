#include "server/uploads.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/byte_size.h"
#include "core/home_fs.h"
#include "core/secrets.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "transfer/publish.h"

namespace ferry {

int64_t SpaceReserve::For(int64_t total_bytes) const {
  return std::min(bytes, static_cast<int64_t>(fraction * static_cast<double>(total_bytes)));
}

Result<SpaceReserve> SpaceReserve::Parse(std::string_view text) {
  if (text.ends_with('%')) {
    std::string number(text.substr(0, text.size() - 1));
    char* end = nullptr;
    double percent = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || percent < 0 || percent > 100) {
      return Status::InvalidArgument(
          fmt::format("'{}' is not a percentage between 0% and 100%", text));
    }
    return SpaceReserve{INT64_MAX, percent / 100};
  }
  auto bytes = ParseByteSize(text);
  if (!bytes.ok()) return bytes.status();
  return SpaceReserve{*bytes, 1.0};
}

Result<FsSpace> StatFsSpace(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    return ErrnoStatus(errno, "cannot measure the free space of the upload area");
  }
  return FsSpace{static_cast<int64_t>(vfs.f_blocks) * static_cast<int64_t>(vfs.f_frsize),
                 static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize)};
}

namespace {
// The ids of a batch's whole files begin so; such partials are never resumed.
constexpr std::string_view kWholePrefix = "whole-";
}  // namespace

int64_t ReplacedBytes(const HomeFs& home, const RelPath& path, bool overwrite) {
  if (!overwrite) return 0;
  auto info = home.Stat(path);
  return info.ok() && info->type == FileType::kFile ? info->size : 0;
}

UploadStore::UploadStore(std::string dir, std::chrono::seconds retention, SpaceReserve reserve,
                         SpaceProbe probe)
    : dir_(std::move(dir)), retention_(retention), reserve_(reserve), probe_(std::move(probe)) {}

Status UploadStore::CheckSpace(int64_t more) const {
  if (more <= 0) return Status::Ok();
  auto space = probe_(dir_);
  if (!space.ok()) return space.status();
  int64_t reserve = reserve_.For(space->total);
  if (space->available - more < reserve) {
    return Status::ResourceExhausted(fmt::format(
        "not enough space left on the server for {} more: {} is free and {} is kept free for "
        "everyone; free some space or ask the server's administrator",
        FormatByteSize(more), FormatByteSize(space->available), FormatByteSize(reserve)));
  }
  return Status::Ok();
}

int64_t UploadStore::PartialBytes(const std::string& user) const {
  std::unordered_map<std::string, int64_t> writing;  // id -> announced size
  {
    std::lock_guard lock(mu_);
    for (const auto& id : writing_) {
      if (auto it = pending_.find(id); it != pending_.end() && it->second.user == user) {
        writing.emplace(id, it->second.size);
      }
    }
  }
  int64_t total = 0;
  {
    std::lock_guard lock(mu_);
    if (auto it = reserved_.find(user); it != reserved_.end()) total += it->second;
  }
  UniqueFd dirfd(::open(UserDir(user).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd.valid()) return total;
  int dup_fd = ::dup(dirfd.get());
  if (dup_fd < 0) return total;
  DIR* d = ::fdopendir(dup_fd);
  if (d == nullptr) {
    ::close(dup_fd);
    return total;
  }
  while (dirent* e = ::readdir(d)) {
    struct stat st {};
    if (::fstatat(dirfd.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    std::string name = e->d_name;
    if (name.rfind(kWholePrefix, 0) == 0) continue;  // counted by its batch's reservation
    auto running = writing.find(name.substr(0, name.find('.')));
    total += running != writing.end() ? std::max<int64_t>(running->second, st.st_size) : st.st_size;
  }
  ::closedir(d);
  return total;
}

Result<std::pair<std::string, int64_t>> UploadStore::Begin(PendingUpload upload,
                                                           const std::string& key) {
  const bool unknown_size = upload.size == kUnknownUploadSize;
  // An upload of unknown size cannot resume: a random key gives it an id no
  // other attempt shares.
  const std::string id_key = unknown_size ? RandomHex(16) : key;
  Sha256 h;
  for (const std::string& part :
       {upload.user, upload.target.Relative(), std::to_string(upload.size), id_key}) {
    h.Update(part);
    h.Update("\0", 1);
  }
  std::string id = h.FinishHex().substr(0, 40);
  std::string user_dir = UserDir(upload.user);
  if (::mkdir(user_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create the upload area");
  }
  int64_t held = 0;
  struct stat st {};
  std::string path = PartPath(upload.user, id);
  if (::stat(path.c_str(), &st) == 0) {
    held = st.st_size;
    if (unknown_size || held > upload.size) {
      ::unlink(path.c_str());
      held = 0;
    }
  }
  if (!unknown_size) FERRY_RETURN_IF_ERROR(CheckSpace(upload.size - held));
  std::lock_guard lock(mu_);
  if (!pending_.contains(id)) {
    size_t mine =
        static_cast<size_t>(std::count_if(pending_.begin(), pending_.end(), [&](const auto& kv) {
          return kv.second.user == upload.user;
        }));
    if (mine >= kMaxPendingUploadsPerUser) {
      return Status::ResourceExhausted(
          fmt::format("you have {} unfinished uploads; finish them or wait until they expire",
                      kMaxPendingUploadsPerUser));
    }
  }
  upload.begun = std::chrono::steady_clock::now();
  pending_[id] = std::move(upload);
  return std::make_pair(id, held);
}

Result<UploadStore::Writer> UploadStore::Open(const std::string& user, const std::string& id) {
  PendingUpload upload;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.user != user) {
      return Status::NotFound("unknown upload id; start the upload with BeginUpload");
    }
    if (!writing_.insert(id).second) {
      return Status::Aborted("this upload is already being written by another connection");
    }
    upload = it->second;
  }
  std::string path = PartPath(user, id);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    Status s = ErrnoStatus(errno, "cannot open the partial upload");
    Release(id, false);
    return s;
  }
  return Writer(this, id, UniqueFd(fd), std::move(upload));
}

void UploadStore::Release(const std::string& id, bool forget) {
  std::lock_guard lock(mu_);
  writing_.erase(id);
  if (forget) pending_.erase(id);
}

UploadStore::Writer::~Writer() {
  if (store_ != nullptr) store_->Release(id_, forget_);
}

void UploadStore::Writer::Discard() {
  if (store_ == nullptr) return;
  ::unlink(store_->PartPath(upload_.user, id_).c_str());
  if (upload_.size == kUnknownUploadSize) forget_ = true;
}

Published UploadStore::Writer::Commit(const DirEntry& to) {
  if (store_ == nullptr) return {Status::FailedPrecondition("the upload was committed"), false, 0};
  UniqueFd part_dir(
      ::open(store_->UserDir(upload_.user).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!part_dir.valid()) {
    int err = errno;
    return {ErrnoStatus(err, "cannot open the upload area"), false, err};
  }
  Published published =
      Publish(fd_.get(), {part_dir.get(), PartName(id_), to.dir.get(), to.leaf, upload_.overwrite},
              "cannot move the upload into place");
  if (published.moved) {
    store_->Release(id_, true);
    store_ = nullptr;
  }
  return published;
}

Result<UploadStore::WholeFiles> UploadStore::OpenWholeFiles(const std::string& user) {
  std::string user_dir = UserDir(user);
  if (::mkdir(user_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create the upload area");
  }
  UniqueFd dir(::open(user_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, "cannot open the upload area");
  return WholeFiles(this, std::move(dir));
}

Result<std::pair<size_t, UniqueFd>> UploadStore::WholeFiles::Create() {
  std::string id = std::string(kWholePrefix) + RandomHex(12);
  {
    std::lock_guard lock(store_->mu_);
    store_->writing_.insert(id);
  }
  UniqueFd fd(::openat(dir_.get(), PartName(id).c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    Status s = ErrnoStatus(errno, "cannot store the upload");
    store_->Release(id, true);
    return s;
  }
  ids_.push_back(std::move(id));
  moved_.push_back(false);
  return std::make_pair(ids_.size() - 1, std::move(fd));
}

Published UploadStore::WholeFiles::MoveTo(size_t file, int dir_fd, const std::string& leaf,
                                          bool replace) {
  if (file >= ids_.size() || moved_[file]) {
    return {Status::FailedPrecondition("no such file to move"), false, 0};
  }
  Published moved = Move({dir_.get(), PartName(ids_[file]), dir_fd, leaf, replace},
                         "cannot move the upload into place");
  if (moved.moved) moved_[file] = true;
  return moved;
}

UploadStore::WholeFiles::~WholeFiles() {
  if (store_ == nullptr) return;
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (!moved_[i]) ::unlinkat(dir_.get(), PartName(ids_[i]).c_str(), 0);
  }
  std::lock_guard lock(store_->mu_);
  for (const auto& id : ids_) store_->writing_.erase(id);
}

UploadStore::Reservation UploadStore::Reserve(const std::string& user, int64_t bytes) {
  std::lock_guard lock(mu_);
  reserved_[user] += bytes;
  return Reservation(this, user, bytes);
}

UploadStore::Reservation::~Reservation() {
  if (store_ == nullptr) return;
  std::lock_guard lock(store_->mu_);
  auto it = store_->reserved_.find(user_);
  if (it != store_->reserved_.end() && (it->second -= bytes_) <= 0) store_->reserved_.erase(it);
}

int UploadStore::RemoveStale() {
  int removed = 0;
  auto cutoff = std::time(nullptr) - retention_.count();
  std::set<std::string> busy;
  {
    std::lock_guard lock(mu_);
    auto oldest = std::chrono::steady_clock::now() - retention_;
    std::erase_if(pending_, [&](const auto& kv) {
      return kv.second.begun < oldest && !writing_.contains(kv.first);
    });
    busy = writing_;
  }
  DIR* top = ::opendir(dir_.c_str());
  if (top == nullptr) return 0;
  while (dirent* user = ::readdir(top)) {
    std::string user_name = user->d_name;
    if (user_name == "." || user_name == "..") continue;
    std::string user_dir = UserDir(user_name);
    DIR* d = ::opendir(user_dir.c_str());
    if (d == nullptr) continue;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (busy.contains(name.substr(0, name.find('.')))) continue;  // a writer has it open
      std::string file = user_dir + "/" + name;
      struct stat st {};
      if (::lstat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < cutoff &&
          ::unlink(file.c_str()) == 0) {
        removed++;
      }
    }
    ::closedir(d);
  }
  ::closedir(top);
  if (removed > 0) spdlog::info("removed {} stale partial uploads", removed);
  return removed;
}

}  // namespace ferry
