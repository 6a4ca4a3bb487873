#include "server/uploads.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/sha256.h"

namespace ferry {

UploadStore::UploadStore(std::string dir, std::chrono::seconds retention)
    : dir_(std::move(dir)), retention_(retention) {}

Result<std::pair<std::string, int64_t>> UploadStore::Begin(PendingUpload upload,
                                                           const std::string& key) {
  Sha256 h;
  for (const std::string& part :
       {upload.user, upload.target.Relative(), std::to_string(upload.size), key}) {
    h.Update(part);
    h.Update("\0", 1);
  }
  std::string id = h.FinishHex().substr(0, 40);
  std::string user_dir = dir_ + "/" + upload.user;
  if (::mkdir(user_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create the upload area");
  }
  int64_t held = 0;
  struct stat st {};
  std::string path = user_dir + "/" + id + ".part";
  if (::stat(path.c_str(), &st) == 0) {
    held = st.st_size;
    if (held > upload.size) {
      ::unlink(path.c_str());
      held = 0;
    }
  }
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
  std::string path = dir_ + "/" + user + "/" + id + ".part";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    Status s = ErrnoStatus(errno, "cannot open the partial upload");
    Release(id, false);
    return s;
  }
  return Writer(this, id, UniqueFd(fd), std::move(upload), path);
}

void UploadStore::Release(const std::string& id, bool forget) {
  std::lock_guard lock(mu_);
  writing_.erase(id);
  if (forget) pending_.erase(id);
}

UploadStore::Writer::~Writer() {
  if (store_ != nullptr) store_->Release(id_, false);
}

void UploadStore::Writer::Discard() { ::unlink(path_.c_str()); }

void UploadStore::Writer::Complete() {
  if (store_ != nullptr) store_->Release(id_, true);
  store_ = nullptr;
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
    std::string user_dir = dir_ + "/" + user_name;
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
