#include "peer/download_manager.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/display_text.h"
#include "core/secrets.h"
#include "directory_api/wire_rules.h"
#include "peer/rate_meter.h"

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;

// Downloads that ended stay in List() (this run's) up to this many, the
// oldest forgotten first; the history keeps them all.
constexpr size_t kEndedKept = 500;

int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

std::string_view PeerStateName(PeerReport::State state) {
  switch (state) {
    case PeerReport::State::kActive:
      return "active";
    case PeerReport::State::kDropped:
      return "dropped";
    case PeerReport::State::kLost:
      return "lost";
  }
  return "active";
}

bool Unfinished(DownloadState s) {
  return s == DownloadState::kQueued || s == DownloadState::kRunning || s == DownloadState::kPaused;
}

}  // namespace

std::string_view DownloadStateName(DownloadState state) {
  switch (state) {
    case DownloadState::kQueued:
      return "queued";
    case DownloadState::kRunning:
      return "running";
    case DownloadState::kPaused:
      return "paused";
    case DownloadState::kDone:
      return "done";
    case DownloadState::kFailed:
      return "failed";
    case DownloadState::kCancelled:
      return "cancelled";
  }
  return "failed";
}

struct DownloadManager::Job {
  DownloadView view;
  DownloadRequest request;
  std::stop_source stop;  // of the run in progress
  StopReason stop_reason = StopReason::kNone;
  bool running = false;  // a run's thread has not returned
  Clock::time_point run_started{};
  double seconds_before = 0;  // spent in earlier runs
  int64_t run_fetched = 0;    // bytes fetched (not resumed) by this run
  int64_t fetched = 0;        // bytes fetched by every run
  RateMeter meter;
  std::map<std::string, std::string> users;  // peer_id -> user name
  std::map<std::string, PeerReport> peers;   // this run's, by peer_id
  std::map<std::string, RateMeter> peer_meters;
  std::map<std::string, HistorySource> sources;  // bytes of earlier runs
};

DownloadManager::DownloadManager(SharedDirectoryClient* session, DownloadHistory* history,
                                 DownloadManagerOptions options, Listener listener)
    : session_(session),
      history_(history),
      options_(std::move(options)),
      listener_(std::move(listener)),
      notifier_([this] { Notify(); }) {}

DownloadManager::~DownloadManager() {
  std::unique_lock lock(mu_);
  shutting_down_ = true;
  for (auto& job : jobs_) {
    if (job->running) {
      job->stop_reason = StopReason::kShutdown;
      job->stop.request_stop();
    }
  }
  ended_.wait(lock, [&] { return threads_ == 0; });
  notifier_stop_ = true;
  notify_.notify_all();
  lock.unlock();
  notifier_.join();
}

Status DownloadManager::Restore() {
  auto unfinished = history_->Unfinished();
  if (!unfinished.ok()) return unfinished.status();
  std::lock_guard lock(mu_);
  for (const auto& d : *unfinished) {
    auto job = std::make_shared<Job>();
    job->view.id = d.id;
    job->view.sha256 = d.sha256;
    job->view.name = d.name;
    job->view.size = d.size;
    job->view.started_at = d.started_at;
    job->view.state = d.paused ? DownloadState::kPaused : DownloadState::kQueued;
    job->request.sha256 = d.sha256;
    job->request.name = d.name;
    job->request.to_dir = options_.downloads_dir;
    job->view.done_bytes = VerifiedBytes(job->request, d.size);
    jobs_.push_back(job);
    spdlog::info("download {}: '{}' taken up again ({})", d.id, ForDisplay(d.name),
                 d.paused ? "paused" : "queued");
    ChangedLocked(*job);
  }
  ScheduleLocked();
  return Status::Ok();
}

void DownloadManager::SaveUnfinishedLocked(const Job& job) {
  UnfinishedDownload d;
  d.id = job.view.id;
  d.sha256 = job.view.sha256;
  d.name = job.view.name;
  d.size = job.view.size;
  d.started_at = job.view.started_at;
  d.paused = job.view.state == DownloadState::kPaused;
  if (Status s = history_->SaveUnfinished(d); !s.ok()) {
    spdlog::warn("download {}: cannot record it for a restart: {}", d.id, s.ToString());
  }
}

std::shared_ptr<DownloadManager::Job> DownloadManager::Find(const std::string& id) const {
  for (const auto& job : jobs_) {
    if (job->view.id == id) return job;
  }
  return nullptr;
}

Result<DownloadView> DownloadManager::Start(const std::string& raw_sha256,
                                            const std::string& raw_name) {
  auto sha256 = dirapi::CanonicalSha256(raw_sha256, "sha256");
  if (!sha256.ok()) return sha256.status();
  if (!raw_name.empty()) FERRY_RETURN_IF_ERROR(CheckDownloadName(raw_name));
  auto busy = [&]() -> Status {
    for (const auto& job : jobs_) {
      if (job->view.sha256 == *sha256 && Unfinished(job->view.state)) {
        return Status::AlreadyExists(fmt::format("'{}' is being downloaded already (download {})",
                                                 ForDisplay(job->view.name), job->view.id));
      }
    }
    return Status::Ok();
  };
  {
    std::lock_guard lock(mu_);
    FERRY_RETURN_IF_ERROR(busy());
  }
  auto hit = session_->Call(
      [&](dirclient::DirectoryClient& client) { return FindContent(client, "", *sha256); });
  if (!hit.ok()) {
    if (hit.status().code() == Code::kNotFound) {
      return Status::NotFound(fmt::format("no peer online has this file ({})", *sha256));
    }
    return hit.status();
  }
  const std::string name = raw_name.empty() ? hit->name : raw_name;
  FERRY_RETURN_IF_ERROR(CheckDownloadName(name));
  const std::string target = options_.downloads_dir + "/" + name;
  if (::faccessat(AT_FDCWD, target.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
    return Status::AlreadyExists(
        fmt::format("a file named '{}' is in the downloads folder already", ForDisplay(name)));
  }

  std::lock_guard lock(mu_);
  FERRY_RETURN_IF_ERROR(busy());
  auto job = std::make_shared<Job>();
  job->view.id = RandomHex(8);
  job->view.sha256 = *sha256;
  job->view.name = name;
  job->view.size = hit->size;
  job->view.started_at = UnixNow();
  job->view.state = DownloadState::kQueued;
  job->request.sha256 = *sha256;
  job->request.name = name;
  job->request.to_dir = options_.downloads_dir;
  jobs_.push_back(job);
  SaveUnfinishedLocked(*job);
  spdlog::info("download {}: '{}' ({} bytes, {}) queued", job->view.id, ForDisplay(name), hit->size,
               *sha256);
  ChangedLocked(*job);
  ScheduleLocked();
  return ViewLocked(*job, Clock::now());
}

void DownloadManager::ScheduleLocked() {
  if (shutting_down_) return;
  for (auto& job : jobs_) {
    if (running_ >= options_.max_running) return;
    if (job->view.state != DownloadState::kQueued) continue;
    job->view.state = DownloadState::kRunning;
    job->view.error.clear();
    job->stop = std::stop_source();
    job->stop_reason = StopReason::kNone;
    job->running = true;
    job->run_started = Clock::now();
    job->run_fetched = 0;
    job->meter.Clear();
    job->peers.clear();
    job->peer_meters.clear();
    ++running_;
    ++threads_;
    ChangedLocked(*job);
    std::thread([this, job, stop = job->stop.get_token()] { Run(job, stop); }).detach();
  }
}

void DownloadManager::Run(const std::shared_ptr<Job>& job, std::stop_token stop) {
  Result<DownloadResult> result = Status::Unavailable("not started");
  auto client = session_->connect()();
  if (!client.ok()) {
    result = client.status();
  } else {
    // Who each peer belongs to, for the UI; a download goes on without.
    if (auto peers = (*client)->AllPeers(); peers.ok()) {
      std::lock_guard lock(mu_);
      for (const auto& p : *peers) job->users[p.peer_id] = p.username;
    }
    result = Download(**client, job->request, options_.download, stop,
                      [this, &job](const DownloadProgress& p) { Observe(*job, p); });
  }
  Finish(job, std::move(result));
}

void DownloadManager::Observe(Job& job, const DownloadProgress& progress) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  job.view.size = progress.size;
  job.view.done_bytes = progress.done_bytes;
  job.meter.Record(progress.done_bytes, now);
  const int64_t fetched = progress.done_bytes - progress.resumed_bytes;
  totals_.bytes_fetched += fetched - job.run_fetched;
  job.fetched += fetched - job.run_fetched;
  job.run_fetched = fetched;
  for (const PeerReport& report : progress.peers) {
    auto [it, added] = job.peers.try_emplace(report.peer_id, report);
    if (!added) {
      if (it->second.state != PeerReport::State::kDropped &&
          report.state == PeerReport::State::kDropped) {
        // A peer is dropped for exactly one chunk that failed its hash.
        ++totals_.peers_dropped;
        ++totals_.chunks_rejected;
      }
      it->second = report;
    } else if (report.state == PeerReport::State::kDropped) {
      ++totals_.peers_dropped;
      ++totals_.chunks_rejected;
    }
    job.peer_meters[report.peer_id].Record(report.bytes, now);
  }
  ChangedLocked(job);
}

void DownloadManager::Finish(const std::shared_ptr<Job>& job, Result<DownloadResult> result) {
  std::lock_guard lock(mu_);
  Job& j = *job;
  --running_;
  j.running = false;
  j.seconds_before += std::chrono::duration<double>(Clock::now() - j.run_started).count();
  for (const auto& [peer_id, report] : j.peers) {
    HistorySource& source = j.sources[peer_id];
    source.peer_id = peer_id;
    source.address = report.address;
    source.bytes += report.bytes;
  }
  const StopReason reason = j.stop_reason;
  if (result.ok()) {
    j.view.state = DownloadState::kDone;
    j.view.path = result->path;
    j.view.done_bytes = j.view.size;
    spdlog::info("download {}: '{}' done: {}", j.view.id, ForDisplay(j.view.name),
                 DownloadSummary(result->progress));
  } else if (reason == StopReason::kCancel) {
    j.view.state = DownloadState::kCancelled;
    DiscardPartial(j.request);
    spdlog::info("download {}: '{}' cancelled", j.view.id, ForDisplay(j.view.name));
  } else if (result.status().code() == Code::kCancelled &&
             (reason == StopReason::kPause || reason == StopReason::kShutdown)) {
    j.view.state = DownloadState::kPaused;
    if (reason == StopReason::kPause) SaveUnfinishedLocked(j);
    spdlog::info("download {}: '{}' paused at {} of {} bytes", j.view.id, ForDisplay(j.view.name),
                 j.view.done_bytes, j.view.size);
  } else {
    j.view.state = DownloadState::kFailed;
    j.view.error = result.status().message();
    spdlog::warn("download {}: '{}' failed: {}", j.view.id, ForDisplay(j.view.name),
                 result.status().ToString());
  }
  if (!Unfinished(j.view.state)) RecordLocked(j);
  ChangedLocked(j);
  ScheduleLocked();
  // Last: once threads_ is 0 the destructor may go on.
  --threads_;
  ended_.notify_all();
}

void DownloadManager::RecordLocked(Job& job) {
  job.view.finished_at = UnixNow();
  HistoryEntry e;
  e.id = job.view.id;
  e.sha256 = job.view.sha256;
  e.name = job.view.name;
  e.size = job.view.size;
  e.state = std::string(DownloadStateName(job.view.state));
  e.error = job.view.error;
  e.started_at = job.view.started_at;
  e.finished_at = job.view.finished_at;
  e.seconds = job.seconds_before;
  e.rate = e.seconds > 0 ? static_cast<double>(job.fetched) / e.seconds : 0;
  e.path = job.view.path;
  for (auto& [peer_id, source] : job.sources) {
    if (source.bytes == 0) continue;
    HistorySource s = source;
    if (auto it = job.users.find(peer_id); it != job.users.end()) s.user = it->second;
    e.sources.push_back(std::move(s));
  }
  if (Status s = history_->Add(e); !s.ok()) {
    spdlog::warn("download {}: cannot record it in the history: {}", e.id, s.ToString());
  }
  if (Status s = history_->ForgetUnfinished(e.id); !s.ok()) {
    spdlog::warn("download {}: cannot record that it ended: {}", e.id, s.ToString());
  }
  ended_entries_.push_back(std::move(e));
  notify_.notify_all();
  size_t ended = 0;
  for (const auto& j : jobs_) ended += Unfinished(j->view.state) || j->running ? 0 : 1;
  for (auto it = jobs_.begin(); ended > kEndedKept && it != jobs_.end();) {
    if (!Unfinished((*it)->view.state) && !(*it)->running) {
      it = jobs_.erase(it);
      --ended;
    } else {
      ++it;
    }
  }
}

void DownloadManager::StopLocked(std::unique_lock<std::mutex>& lock, Job& job, StopReason why) {
  job.stop_reason = why;
  job.stop.request_stop();
  ended_.wait_for(lock, options_.stop_wait, [&] { return !job.running; });
}

Result<DownloadView> DownloadManager::Pause(const std::string& id) {
  std::unique_lock lock(mu_);
  auto job = Find(id);
  if (!job) return Status::NotFound(fmt::format("no download {}", ForDisplay(id)));
  switch (job->view.state) {
    case DownloadState::kRunning:
      StopLocked(lock, *job, StopReason::kPause);
      break;
    case DownloadState::kQueued:
      job->view.state = DownloadState::kPaused;
      SaveUnfinishedLocked(*job);
      ChangedLocked(*job);
      break;
    default:
      return Status::FailedPrecondition(
          fmt::format("download {} is {}: only a queued or running download can be paused", id,
                      DownloadStateName(job->view.state)));
  }
  return ViewLocked(*job, Clock::now());
}

Result<DownloadView> DownloadManager::Resume(const std::string& id) {
  std::lock_guard lock(mu_);
  auto job = Find(id);
  if (!job) return Status::NotFound(fmt::format("no download {}", ForDisplay(id)));
  if (job->running ||
      (job->view.state != DownloadState::kPaused && job->view.state != DownloadState::kFailed)) {
    return Status::FailedPrecondition(
        fmt::format("download {} is {}: only a paused or failed download can be resumed", id,
                    DownloadStateName(job->view.state)));
  }
  job->view.state = DownloadState::kQueued;
  job->view.error.clear();
  job->view.finished_at = 0;
  SaveUnfinishedLocked(*job);
  ChangedLocked(*job);
  ScheduleLocked();
  return ViewLocked(*job, Clock::now());
}

Result<DownloadView> DownloadManager::Cancel(const std::string& id) {
  std::unique_lock lock(mu_);
  auto job = Find(id);
  if (!job) return Status::NotFound(fmt::format("no download {}", ForDisplay(id)));
  if (job->running) {
    StopLocked(lock, *job, StopReason::kCancel);
  } else if (Unfinished(job->view.state) || job->view.state == DownloadState::kFailed) {
    job->view.state = DownloadState::kCancelled;
    DiscardPartial(job->request);
    spdlog::info("download {}: '{}' cancelled", id, ForDisplay(job->view.name));
    RecordLocked(*job);
    ChangedLocked(*job);
  } else {
    return Status::FailedPrecondition(fmt::format("download {} is {} and cannot be cancelled", id,
                                                  DownloadStateName(job->view.state)));
  }
  return ViewLocked(*job, Clock::now());
}

DownloadView DownloadManager::ViewLocked(const Job& job, Clock::time_point now) const {
  DownloadView view = job.view;
  view.peers.clear();
  if (view.state == DownloadState::kRunning) {
    view.rate = job.meter.Rate(now);
    if (view.rate > 0 && view.size > 0) {
      view.eta_seconds =
          static_cast<int64_t>(static_cast<double>(view.size - view.done_bytes) / view.rate + 0.5);
    }
  }
  for (const auto& [peer_id, report] : job.peers) {
    DownloadPeerView p;
    p.peer_id = peer_id;
    if (auto it = job.users.find(peer_id); it != job.users.end()) p.user = it->second;
    p.address = report.address;
    p.state = std::string(PeerStateName(report.state));
    p.why = report.why;
    p.bytes = report.bytes;
    if (view.state == DownloadState::kRunning) {
      if (auto it = job.peer_meters.find(peer_id); it != job.peer_meters.end()) {
        p.rate = it->second.Rate(now);
      }
    }
    view.peers.push_back(std::move(p));
  }
  return view;
}

std::vector<DownloadView> DownloadManager::List() const {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  std::vector<DownloadView> out;
  out.reserve(jobs_.size());
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) out.push_back(ViewLocked(**it, now));
  return out;
}

DownloadTotals DownloadManager::Totals() const {
  std::lock_guard lock(mu_);
  DownloadTotals out = totals_;
  for (auto s : {DownloadState::kQueued, DownloadState::kRunning, DownloadState::kPaused,
                 DownloadState::kDone, DownloadState::kFailed, DownloadState::kCancelled}) {
    out.by_state[s] = 0;
  }
  for (const auto& job : jobs_) ++out.by_state[job->view.state];
  return out;
}

void DownloadManager::ChangedLocked(const Job& job) {
  if (std::find(changed_.begin(), changed_.end(), job.view.id) == changed_.end()) {
    changed_.push_back(job.view.id);
  }
  notify_.notify_all();
}

void DownloadManager::Notify() {
  std::unique_lock lock(mu_);
  for (;;) {
    notify_.wait(lock,
                 [&] { return notifier_stop_ || !changed_.empty() || !ended_entries_.empty(); });
    if (changed_.empty() && ended_entries_.empty() && notifier_stop_) return;
    std::vector<DownloadView> views;
    const auto now = Clock::now();
    for (const auto& id : changed_) {
      if (auto job = Find(id)) views.push_back(ViewLocked(*job, now));
    }
    changed_.clear();
    std::vector<HistoryEntry> ended = std::move(ended_entries_);
    ended_entries_.clear();
    lock.unlock();
    for (const auto& view : views) {
      if (listener_.changed) listener_.changed(view);
    }
    for (const auto& entry : ended) {
      if (listener_.ended) listener_.ended(entry);
    }
    lock.lock();
  }
}

}  // namespace ferry
