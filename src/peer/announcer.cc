#include "peer/announcer.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "directory_api/wire_rules.h"

namespace ferry {
namespace {

using dirapi::Announcement;

// What one file adds to a request's JSON besides its path: two hex hashes,
// two numbers and the keys, with room to spare.
constexpr size_t kFileOverheadBytes = 320;

// The directory refuses a whole request over one path its rules do not
// take: such a file is left out, with a warning.
bool Announceable(const std::string& path) {
  Status s = dirapi::ValidateSharedPath(path);
  if (!s.ok()) spdlog::warn("not announcing '{}': {}", path, s.message());
  return s.ok();
}

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Errors that sending the same request again cannot cure.
bool IsPermanent(Code code) {
  return code == Code::kInvalidArgument || code == Code::kPermissionDenied ||
         code == Code::kFailedPrecondition || code == Code::kUnimplemented;
}

}  // namespace

dirapi::SharedFile ToAnnounced(const SharedFile& file) {
  dirapi::SharedFile out;
  out.path = file.path;
  out.size = file.size;
  out.sha256 = file.sha256;
  out.mtime = file.mtime_ns > 0 ? file.mtime_ns / 1'000'000'000 : 0;
  out.chunk_root = file.chunk_root;
  return out;
}

Announcer::Announcer(std::unique_ptr<dirclient::DirectoryClient> client, ListFiles list_files,
                     Login login, AnnouncerOptions options)
    : client_(std::move(client)),
      list_files_(std::move(list_files)),
      login_(std::move(login)),
      options_(std::move(options)) {}

Announcer::~Announcer() { (void)Withdraw(); }

void Announcer::Start(const std::string& address) {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  if (!address.empty()) options_.address = address;
  thread_ = std::thread([this] { Run(); });
}

void Announcer::Indexed(const SharedFile& file) {
  std::lock_guard lock(mu_);
  if (stopping_ || !Announceable(file.path)) return;
  pending_[file.path] = ToAnnounced(file);
  cv_.notify_all();
}

void Announcer::Removed(const SharedFile& file) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  pending_[file.path] = std::nullopt;
  cv_.notify_all();
}

std::string Announcer::peer_id() const {
  std::lock_guard lock(mu_);
  return peer_id_;
}

AnnouncerStats Announcer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Announcer::WaitUntilInStep(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout,
                      [&] { return !peer_id_.empty() && pending_.empty() && !in_flight_; });
}

Status Announcer::Withdraw() {
  {
    std::lock_guard lock(mu_);
    if (withdrawn_) return Status::Ok();
    withdrawn_ = true;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::string id = peer_id();
  if (id.empty()) return Status::Ok();
  Status s = client_->RemovePeer(id);
  if (s.code() == Code::kUnauthenticated && login_ && login_(*client_).ok()) {
    s = client_->RemovePeer(id);
  }
  {
    std::lock_guard lock(mu_);
    peer_id_.clear();
  }
  // Already gone (expired) is as good as removed.
  if (!s.ok() && s.code() != Code::kNotFound) return s;
  spdlog::info("withdrew peer {} from the directory", id);
  return Status::Ok();
}

void Announcer::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    bool planned = false;
    Clock::time_point wake = Step(&planned);
    lock.lock();
    // A change arriving while nothing waited is sent without delay; while
    // others wait, it joins them at the time already planned, unless a whole
    // request's worth is ready. A change that came while Step ran is not
    // in its plan (it may have planned only the next heartbeat).
    bool had_pending = planned && !pending_.empty();
    cv_.wait_until(lock, wake, [&] {
      return stopping_ || (!had_pending && !pending_.empty()) ||
             pending_.size() >= options_.max_files_per_request;
    });
  }
}

Announcer::Clock::time_point Announcer::Step(bool* planned_for_changes) {
  // Every return but the last is soon (a retry, or at once).
  *planned_for_changes = true;
  Clock::time_point now = Clock::now();
  if (now < retry_at_) return retry_at_;
  if (relogin_) {
    if (Status s = login_ ? login_(*client_) : Status::Unauthenticated("no way to log in again");
        !s.ok()) {
      Failed(s, "logging in to the directory again");
      return retry_at_;
    }
    relogin_ = false;
    std::lock_guard lock(mu_);
    ++stats_.logins;
  }
  if (peer_id().empty()) {
    if (Status s = AnnounceAll(); !s.ok()) {
      Failed(s, "announcing the peer");
      return retry_at_;
    }
    return Clock::now();  // look again at once: the rest of a long list may wait
  }
  bool has_pending = false;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    has_pending = !pending_.empty();
    full = pending_.size() >= options_.max_files_per_request;
  }
  Clock::time_point delta_due = last_delta_ + options_.delta_interval;
  if (has_pending && (full || now >= delta_due)) {
    if (Status s = SendDelta(); !s.ok()) {
      Failed(s, "announcing changes");
      return retry_at_;
    }
    return Clock::now();
  }
  if (now >= next_heartbeat_) {
    if (Status s = Heartbeat(); !s.ok()) {
      Failed(s, "heartbeating");
      return retry_at_;
    }
  }
  *planned_for_changes = has_pending;
  return has_pending ? std::min(next_heartbeat_, delta_due) : next_heartbeat_;
}

Status Announcer::AnnounceAll() {
  {
    // The list read below holds every change made so far; those reported
    // from now on are newer than it.
    std::lock_guard lock(mu_);
    pending_.clear();
  }
  auto listed = list_files_();
  if (!listed.ok()) return listed.status();
  std::vector<dirapi::SharedFile> files;
  files.reserve(listed->size());
  for (const auto& f : *listed) {
    if (Announceable(f.path)) files.push_back(ToAnnounced(f));
  }

  size_t first = 0;
  for (size_t bytes = 0; first < files.size() && first < options_.max_files_per_request; ++first) {
    bytes += files[first].path.size() + kFileOverheadBytes;
    if (bytes > options_.max_request_bytes && first > 0) break;
  }
  Announcement a;
  a.address = options_.address;
  a.cert_sha256 = options_.cert_sha256;
  a.files.emplace(files.begin(), files.begin() + static_cast<ptrdiff_t>(first));
  auto lease = client_->Announce(a);
  if (!lease.ok()) return lease.status();

  std::lock_guard lock(mu_);
  peer_id_ = lease->peer_id;
  ++stats_.announces;
  // The rest of a long list follows as deltas; a newer change of the same
  // path, already pending, wins.
  for (size_t i = first; i < files.size(); ++i) {
    std::string path = files[i].path;
    pending_.emplace(std::move(path), std::move(files[i]));
  }
  heartbeat_every_ = std::chrono::seconds(std::max(1, lease->heartbeat_seconds));
  next_heartbeat_ = Clock::now() + heartbeat_every_;
  backoff_ = std::chrono::milliseconds(0);
  spdlog::info("announced peer {} at {} to {}: {} files{}", lease->peer_id, options_.address,
               client_->endpoint().Url(), files.size(),
               first < files.size() ? fmt::format(" ({} in the first request)", first) : "");
  cv_.notify_all();
  return Status::Ok();
}

Announcer::Changes Announcer::TakeBatch() {
  std::lock_guard lock(mu_);
  Changes batch;
  size_t bytes = 0;
  while (!pending_.empty() && batch.size() < options_.max_files_per_request) {
    auto it = pending_.begin();
    bytes += it->first.size() + kFileOverheadBytes;
    if (bytes > options_.max_request_bytes && !batch.empty()) break;
    batch.insert(pending_.extract(it));
  }
  in_flight_ = true;
  return batch;
}

void Announcer::Restore(Changes changes) {
  std::lock_guard lock(mu_);
  // insert() keeps what is there: a change made while these were in flight.
  pending_.merge(changes);
}

Status Announcer::SendDelta() {
  std::string id = peer_id();
  Changes batch = TakeBatch();
  Announcement a;
  a.peer_id = id;
  for (const auto& [path, file] : batch) {
    if (file) {
      a.added.push_back(*file);
    } else {
      a.removed.push_back(path);
    }
  }
  last_delta_ = Clock::now();
  auto lease = client_->Announce(a);
  if (!lease.ok()) {
    Code code = lease.status().code();
    if (IsPermanent(code)) {
      spdlog::error(
          "the directory refused {} changes of this peer ({}); they are left out until the peer "
          "announces afresh",
          batch.size(), lease.status().ToString());
    } else if (code != Code::kNotFound) {
      Restore(std::move(batch));  // a 404 leads to a whole announce instead
    }
    std::lock_guard lock(mu_);
    in_flight_ = false;
    cv_.notify_all();
    return IsPermanent(code) ? Status::Ok() : lease.status();
  }
  std::lock_guard lock(mu_);
  in_flight_ = false;
  ++stats_.deltas;
  heartbeat_every_ = std::chrono::seconds(std::max(1, lease->heartbeat_seconds));
  next_heartbeat_ = Clock::now() + heartbeat_every_;
  backoff_ = std::chrono::milliseconds(0);
  spdlog::debug("announced {} added and {} removed files", a.added.size(), a.removed.size());
  cv_.notify_all();
  return Status::Ok();
}

Status Announcer::Heartbeat() {
  auto lease = client_->Heartbeat(peer_id());
  if (!lease.ok()) return lease.status();
  std::lock_guard lock(mu_);
  ++stats_.heartbeats;
  heartbeat_every_ = std::chrono::seconds(std::max(1, lease->heartbeat_seconds));
  next_heartbeat_ = Clock::now() + heartbeat_every_;
  backoff_ = std::chrono::milliseconds(0);
  return Status::Ok();
}

void Announcer::Failed(const Status& s, const char* what) {
  bool announced = false;
  {
    std::lock_guard lock(mu_);
    ++stats_.failures;
    announced = !peer_id_.empty();
    if (s.code() == Code::kNotFound && announced) peer_id_.clear();
  }
  if (s.code() == Code::kNotFound && announced) {
    spdlog::info("the directory no longer knows this peer ({}); announcing it afresh", s.message());
    retry_at_ = Clock::now();
    return;
  }
  if (s.code() == Code::kUnauthenticated) relogin_ = true;
  backoff_ =
      backoff_.count() == 0 ? options_.min_backoff : std::min(backoff_ * 2, options_.max_backoff);
  retry_at_ = Clock::now() + backoff_;
  spdlog::warn("{} failed: {}; trying again in {:g} s", what, s.ToString(), Seconds(backoff_));
}

}  // namespace ferry
