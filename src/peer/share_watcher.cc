#include "peer/share_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "peer/own_files.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Everything that can change what a scan finds. Reads and opens are left
// out: serving a file must not make the share look changed.
constexpr uint32_t kEvents = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |
                             IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr uint32_t kWatchMask = kEvents | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// A sysctl's value for a message, or "?" when it cannot be read.
std::string ReadSysctl(const char* path) {
  std::ifstream in(path);
  std::string value;
  if (!(in >> value)) return "?";
  return value;
}

double Seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Milliseconds until `due`, rounded up so that a wake-up is never early.
std::chrono::milliseconds Until(Clock::time_point due) {
  auto left = due - Clock::now();
  if (left <= Clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

}  // namespace

Result<std::unique_ptr<ShareWatcher>> ShareWatcher::Start(const std::string& share_dir,
                                                          const ShareWatcherOptions& options,
                                                          OnChange on_change) {
  std::error_code ec;
  fs::path root = fs::canonical(share_dir, ec);
  struct stat st {};
  if (ec || ::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::NotFound(fmt::format("cannot watch the share folder '{}': {}", share_dir,
                                        ec ? ec.message() : "not a folder"));
  }
  std::unique_ptr<ShareWatcher> w(
      new ShareWatcher(root.string(), st.st_dev, options, std::move(on_change)));
  w->wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w->wake_.valid()) return ErrnoStatus(errno, "eventfd for the share watcher");
  if (!options.use_inotify) {
    w->periodic_ = true;
  } else {
    w->inotify_.Reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!w->inotify_.valid()) {
      int err = errno;
      std::string hint = err == EMFILE
                             ? " (raise fs.inotify.max_user_instances, now " +
                                   ReadSysctl("/proc/sys/fs/inotify/max_user_instances") + ")"
                             : "";
      w->FallBack(fmt::format("inotify is unavailable: {}{}", std::strerror(err), hint));
    } else {
      // Every watch is in place before the thread's first on_change.
      w->WatchTree("");
    }
  }
  w->thread_ = std::jthread([raw = w.get()](std::stop_token stop) { raw->Run(std::move(stop)); });
  return w;
}

ShareWatcher::ShareWatcher(std::string root, dev_t device, const ShareWatcherOptions& options,
                           OnChange on_change)
    : root_(std::move(root)),
      device_(device),
      options_(options),
      on_change_(std::move(on_change)) {}

ShareWatcher::~ShareWatcher() { Stop(); }

void ShareWatcher::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) {
    // The counter cannot overflow from one write; the stop token is set anyway.
  }
  thread_.join();
}

void ShareWatcher::Run(std::stop_token stop) {
  if (!periodic_) RunInotify(stop);
  if (!stop.stop_requested()) RunPeriodic(stop);
}

void ShareWatcher::RunInotify(const std::stop_token& stop) {
  // The first call is the owner's initial scan: due at once.
  bool pending = true;
  Clock::time_point first = Clock::now();
  Clock::time_point last = first - options_.settle;
  while (!stop.stop_requested() && !periodic_) {
    std::chrono::milliseconds timeout(-1);
    if (pending) {
      auto due = std::min(last + options_.settle, first + options_.max_delay);
      if (Clock::now() >= due) {
        pending = false;
        on_change_(stop);
        continue;
      }
      timeout = Until(due);
    }
    if (WaitForEvents(timeout) && ReadEvents()) {
      Clock::time_point now = Clock::now();
      if (!pending) first = now;
      pending = true;
      last = now;
    }
  }
}

void ShareWatcher::RunPeriodic(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    on_change_(stop);
    auto due = Clock::now() + options_.rescan_interval;
    while (!stop.stop_requested() && Clock::now() < due) WaitForEvents(Until(due));
  }
}

bool ShareWatcher::WaitForEvents(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}};
  nfds_t count = inotify_.valid() ? 2 : 1;
  int ms = timeout.count() < 0 ? -1 : static_cast<int>(std::min<int64_t>(timeout.count(), 60'000));
  int n = ::poll(fds, count, ms);
  if (n <= 0) return false;  // timeout, or EINTR: the caller looks again
  if (fds[0].revents != 0) return false;
  return count == 2 && fds[1].revents != 0;
}

bool ShareWatcher::ReadEvents() {
  alignas(inotify_event) char buf[64 * 1024];
  bool changed = false;
  while (inotify_.valid()) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      FallBack(fmt::format("reading inotify events failed: {}", std::strerror(errno)));
      return true;
    }
    for (ssize_t at = 0; at < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were lost, folder creations among them: watch whatever
        // exists now (watching a watched folder again is harmless).
        changed = true;
        if (!WatchTree("")) return true;
        continue;
      }
      if (ev->mask & IN_IGNORED) {
        dirs_.erase(ev->wd);
        watch_count_ = dirs_.size();
        continue;
      }
      std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
      if (!name.empty() && IsOwnFileName(name)) continue;
      changed = true;
      auto it = dirs_.find(ev->wd);
      if (it == dirs_.end() || name.empty() || !(ev->mask & IN_ISDIR)) continue;
      std::string rel = Join(it->second, name);
      if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
        if (!WatchTree(rel)) return true;
      } else if (ev->mask & IN_MOVED_FROM) {
        UnwatchTree(rel);  // moved out, or renamed: IN_MOVED_TO watches the new name
      }
    }
  }
  return changed;
}

bool ShareWatcher::WatchTree(const std::string& rel) {
  std::function<int(int, const char*, uint32_t)> add = options_.add_watch;
  if (!add) add = ::inotify_add_watch;
  std::vector<std::string> todo{rel};
  while (!todo.empty() && inotify_.valid()) {
    std::string dir = std::move(todo.back());
    todo.pop_back();
    std::string abs = dir.empty() ? root_ : root_ + "/" + dir;
    struct stat st {};
    if (::lstat(abs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != device_) continue;
    int wd = add(inotify_.get(), abs.c_str(), kWatchMask);
    if (wd < 0) {
      if (errno == ENOSPC) {
        FallBack(fmt::format(
            "the inotify watch limit is reached after {} folders (fs.inotify.max_user_watches = "
            "{}); raise it, for example `sysctl fs.inotify.max_user_watches=524288`, and restart "
            "the peer to watch the share again",
            dirs_.size(), ReadSysctl("/proc/sys/fs/inotify/max_user_watches")));
        return false;
      }
      // Gone or unreadable since it was listed: the scan skips it too.
      spdlog::debug("share watcher: not watching '{}': {}", abs, std::strerror(errno));
      continue;
    }
    dirs_[wd] = dir;
    watch_count_ = dirs_.size();
    std::error_code ec;
    for (fs::directory_iterator it(abs, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      std::error_code type_ec;
      if (!IsOwnFileName(name) && it->symlink_status(type_ec).type() == fs::file_type::directory) {
        todo.push_back(Join(dir, name));
      }
    }
  }
  return inotify_.valid();
}

void ShareWatcher::UnwatchTree(const std::string& rel) {
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    const std::string& dir = it->second;
    if (dir == rel || (dir.size() > rel.size() && dir.starts_with(rel) && dir[rel.size()] == '/')) {
      ::inotify_rm_watch(inotify_.get(), it->first);
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
  watch_count_ = dirs_.size();
}

void ShareWatcher::FallBack(const std::string& why) {
  spdlog::warn("share watcher: {}; rescanning the whole share '{}' every {:g} s instead", why,
               root_, Seconds(options_.rescan_interval));
  inotify_.Reset();  // closing it drops every watch
  dirs_.clear();
  watch_count_ = 0;
  periodic_ = true;
}

}  // namespace ferry
