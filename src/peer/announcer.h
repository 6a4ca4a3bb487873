// Keeps the directory's view of this peer in step with the share index.
//
// On Start it announces the peer (address, certificate fingerprint and every
// file the index holds) and from then on, on a thread of its own:
//   - sends the changes the index reports (Indexed, Removed) as deltas, the
//     directory's added/removed announce: a file is announced as soon as it
//     is hashed, and changes that come faster are batched, one delta about
//     every delta_interval (a backlog larger than one request goes at once);
//   - heartbeats at the interval the directory's lease gives, when no delta
//     has renewed the lease in the meantime;
//   - announces afresh when the directory answers 404 (it forgot the peer:
//     missed heartbeats, a restart), and logs in again on 401;
//   - retries after network and server errors with doubling backoff, keeping
//     every change not yet sent: a change is dropped only when a newer one
//     for the same path replaces it, or a fresh announce sends the whole list.
// Withdraw() stops the thread and removes the peer from the directory at once.
//
// Requests stay within the directory's limits: a list longer than
// max_request_bytes (estimated) or max_files_per_request goes as a first
// announce followed by deltas.
//
// Thread safety: Indexed, Removed and the accessors may be called from any
// thread; Start and Withdraw from the owner's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/directory_client.h"
#include "core/status.h"
#include "directory_api/wire_types.h"
#include "peer/shared_file.h"

namespace ferry {

// What the directory is told of one indexed file: the one place where the
// index's nanosecond mtime becomes the wire's seconds (rounded down; a time
// before 1970 becomes 0, which the wire accepts).
dirapi::SharedFile ToAnnounced(const SharedFile& file);

struct AnnouncerOptions {
  std::string address;      // "host:port" where the peer serves
  std::string cert_sha256;  // of the peer's TLS certificate (DER), hex
  // Deltas go out at most this often, unless a whole request's worth waits.
  std::chrono::milliseconds delta_interval{1000};
  // After a failed call: the first wait, doubling up to the last.
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  // Bounds on one request (the directory takes 100,000 entries a list and
  // 16 MiB a body by default).
  size_t max_files_per_request = 20'000;
  size_t max_request_bytes = 4 << 20;
};

// Counts of what the announcer has done, for logs and tests.
struct AnnouncerStats {
  int64_t announces = 0;   // whole announces that succeeded (first and afresh)
  int64_t deltas = 0;      // delta announces that succeeded
  int64_t heartbeats = 0;  // heartbeats that succeeded
  int64_t failures = 0;    // calls that failed and were retried
  int64_t logins = 0;      // logins again after a 401
};

class Announcer {
 public:
  // Every file the index holds now, for a whole announce.
  using ListFiles = std::function<Result<std::vector<SharedFile>>()>;
  // Logs `client` in again (after a 401); an error is retried with backoff.
  using Login = std::function<Status(dirclient::DirectoryClient& client)>;

  // `client` is logged in already. Nothing is sent before Start.
  Announcer(std::unique_ptr<dirclient::DirectoryClient> client, ListFiles list_files, Login login,
            AnnouncerOptions options);
  ~Announcer();  // Withdraw() unless done
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // Starts the thread, which announces at once. `address`, when not empty,
  // replaces options.address (a peer learns its port only once it listens).
  void Start(const std::string& address = "");

  // A file now in the index (new, changed or renamed).
  void Indexed(const SharedFile& file);
  // A file no longer in the index under this path.
  void Removed(const SharedFile& file);

  // Stops the thread (waiting at most for a call in flight) and removes the
  // peer from the directory. Later calls do nothing and return OK. The
  // error of the removal, if any: the directory then drops the peer after
  // its missed heartbeats.
  Status Withdraw();

  // The peer's id at the directory ("" while not announced).
  std::string peer_id() const;
  AnnouncerStats stats() const;
  // True once the peer is announced and no change waits to be sent, within
  // `timeout`.
  bool WaitUntilInStep(std::chrono::milliseconds timeout) const;

 private:
  using Clock = std::chrono::steady_clock;
  // Path -> what the directory should know of it: a file, or nullopt for
  // "removed". The newest change of a path replaces older ones.
  using Changes = std::map<std::string, std::optional<dirapi::SharedFile>>;

  void Run();
  // One step of the thread: a whole announce, a delta or a heartbeat, when
  // one is due. Returns when the thread should look again; `*planned_for_changes`
  // says whether that time already allows for the changes that were pending.
  Clock::time_point Step(bool* planned_for_changes);
  Status AnnounceAll();
  Status SendDelta();
  Status Heartbeat();
  // After a failed call: logs in again on 401, forgets the peer on 404.
  void Failed(const Status& s, const char* what);
  // Puts `changes` back under any newer change of the same paths.
  void Restore(Changes changes);
  // Takes at most one request's worth of pending changes.
  Changes TakeBatch();

  const std::unique_ptr<dirclient::DirectoryClient> client_;  // the thread's, then Withdraw's
  const ListFiles list_files_;
  const Login login_;
  AnnouncerOptions options_;  // written only before the thread starts

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Changes pending_;         // GUARDED_BY(mu_)
  std::string peer_id_;     // GUARDED_BY(mu_); "" while not announced
  bool stopping_ = false;   // GUARDED_BY(mu_)
  bool withdrawn_ = false;  // GUARDED_BY(mu_)
  bool in_flight_ = false;  // GUARDED_BY(mu_): a delta is being sent
  AnnouncerStats stats_;    // GUARDED_BY(mu_)

  // Used by the thread only.
  std::chrono::seconds heartbeat_every_{10};
  Clock::time_point next_heartbeat_{};
  Clock::time_point last_delta_{};
  Clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{0};
  bool relogin_ = false;

  std::thread thread_;
};

}  // namespace ferry
