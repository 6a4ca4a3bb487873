// What the directory does, independent of HTTP: accounts and tokens, announces
// and heartbeats, peer listings and search, over one DirectoryStore.
//
// Heartbeats are the hot path (every peer, every few seconds), so they touch
// no database: the session and peer behind one are cached, the time is
// recorded in memory, and a maintenance thread writes every peer's latest
// heartbeat in one transaction each `flush_interval`. Expiry allows for that
// lag: flush_interval is far below the 3 missed intervals that expire a peer.
// With several instances, a peer removed or logged out through another one is
// found gone by the next flush here, and its next heartbeat is refused.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/login_throttle.h"
#include "core/status.h"
#include "directory/directory_requests.h"
#include "directory/directory_store.h"
#include "directory/fair_gate.h"
#include "directory/search_cache.h"

namespace ferry {

struct DirectoryOptions {
  std::chrono::milliseconds heartbeat_interval{10'000};
  int missed_heartbeats = 3;  // a peer that misses this many is offline
  std::chrono::seconds token_lifetime{24 * 3600};
  // How long a ticket names its fetcher to its serving peer (never longer
  // than the fetcher's session lasts).
  std::chrono::seconds ticket_lifetime{300};
  // How long a heartbeat trusts a cached session. A logout through another
  // instance also reaches it at the next flush, when the session's peers are
  // found gone.
  std::chrono::milliseconds session_cache_ttl{10'000};
  // How long a peer's owner and last time in the store are cached. A peer
  // removed through another instance is noticed at the next flush; one that
  // looks expired is looked up again before it is refused.
  std::chrono::milliseconds peer_cache_ttl{300'000};
  std::chrono::milliseconds flush_interval{1000};  // capped at heartbeat_interval / 4
  // How long a search answer is reused for the same query (capped like
  // flush_interval; 0 turns it off), and how much memory such answers take.
  // Changes through this instance invalidate them at once.
  std::chrono::milliseconds search_cache_ttl{1000};
  size_t search_cache_bytes = 32 << 20;
  // Searches the store runs at once, the others queued in arrival order;
  // 0: one per CPU this process may run on.
  int search_concurrency = 0;
  // Password hashes (Argon2id, 19 MiB each, for register and login) computed
  // at once, the others queued in arrival order; 0: one per CPU this process
  // may run on, at most 4. Bounds the memory that password hashing takes.
  int hash_concurrency = 0;
  // Registers and logins that may wait for a hash slot; beyond, they are
  // refused (RESOURCE_EXHAUSTED) instead of holding a thread each.
  int hash_queue = 64;
  ThrottlePolicy throttle;
};

// The answers the service gives, as directory_api defines them.
using dirapi::LoginInfo;
using dirapi::PeerLease;

// Unix milliseconds; tests may pass their own.
using WallClockMs = std::function<int64_t()>;
WallClockMs RealWallClockMs();

class DirectoryService {
 public:
  DirectoryService(std::unique_ptr<DirectoryStore> store, DirectoryOptions options,
                   WallClockMs clock = RealWallClockMs());
  // Flushes pending heartbeats.
  ~DirectoryService();
  DirectoryService(const DirectoryService&) = delete;
  DirectoryService& operator=(const DirectoryService&) = delete;

  // Starts the maintenance thread (heartbeat flushes, expiry, counts).
  void Start();
  // Stops it after a last flush. Idempotent.
  void Stop();

  // Both hash a password: RESOURCE_EXHAUSTED when hash_queue others already
  // wait for a hash slot.
  Status Register(const Credentials& credentials);
  // RESOURCE_EXHAUSTED while `address` or the user is throttled.
  Result<LoginInfo> Login(const Credentials& credentials, const std::string& address);
  // Ends the session and removes the peers announced with it.
  Status Logout(const std::string& token);
  Result<DirectorySession> Verify(const std::string& token);

  Result<PeerLease> Announce(const std::string& token, const Announcement& request);
  // NOT_FOUND when the peer is unknown or missed its heartbeats (announce again).
  Result<PeerLease> Heartbeat(const std::string& token, const std::string& peer_id);
  Status RemovePeer(const std::string& token, const std::string& peer_id);

  Result<std::vector<dirapi::PeerInfo>> Peers(const std::string& token, Page page);
  Result<std::vector<SharedFile>> PeerFiles(const std::string& token, const std::string& peer_id,
                                            Page page);
  // The online peers that share content `sha256` (lower case), at most
  // `limit`, ordered by peer id; an empty list when none does.
  Result<std::vector<dirapi::ContentSource>> Sources(const std::string& token,
                                                     const std::string& sha256, int limit);
  // A ticket that names the session's user to the serving peer `peer_id`,
  // and to no one else, until it expires; the directory keeps only its
  // SHA-256. NOT_FOUND when the peer is not online.
  Result<dirapi::Ticket> IssueTicket(const std::string& token, const std::string& peer_id);
  // Who holds `check.ticket`, for the owner of its serving peer: only if the
  // ticket exists, has not expired, was issued for exactly `check.peer_id`,
  // and the session's user owns that peer, which is online. Otherwise
  // PERMISSION_DENIED with one message whatever the reason, so a caller
  // learns nothing about tickets that are not its to check.
  Result<dirapi::TicketHolder> CheckTicket(const std::string& token,
                                           const dirapi::TicketCheck& check);
  // `cache_missed`: SearchOnLoop has just found no fresh answer to `query`
  // in the cache, which is then not asked again before the store (unless the
  // search queued behind others, which may have stored one meanwhile).
  Result<SharedSearchAnswer> Search(const std::string& token, const SearchQuery& query,
                                    bool cache_missed = false);

  // The same answers from what this instance holds in memory alone (a cached
  // session, peer or search answer), for an event loop, which must not wait
  // for a database server; nullopt when the store would have to be asked.
  // SearchOnLoop sets `*cache_missed` when it asked the cache in vain.
  std::optional<Result<PeerLease>> HeartbeatOnLoop(const std::string& token,
                                                   const std::string& peer_id);
  std::optional<Result<SharedSearchAnswer>> SearchOnLoop(const std::string& token,
                                                         const SearchQuery& query,
                                                         bool* cache_missed = nullptr);

  Status Health();
  // Counts as of the last maintenance pass (cheap; for /metrics).
  DirectoryCounts counts() const;
  SearchCache::Stats search_cache_stats() const { return search_cache_.stats(); }
  int heartbeat_seconds() const;

  // Runs one maintenance pass now (tests).
  void MaintainNow();

 private:
  struct CachedSession {
    DirectorySession session;
    int64_t checked_at = 0;
  };
  struct CachedPeer {
    PeerOwner owner;
    int64_t checked_at = 0;
  };

  int64_t OnlineSince(int64_t now) const;
  // Runs `hash` (a password hash or check) in a hash slot, waiting for one;
  // RESOURCE_EXHAUSTED without running it when hash_queue callers already
  // wait.
  Result<std::string> WithHashSlot(const std::function<Result<std::string>()>& hash);
  // The session behind `token` from the store (UNAUTHENTICATED if none).
  Result<DirectorySession> Authenticate(const std::string& token);
  // The same, answered from the cache when it is younger than cache_ttl.
  Result<DirectorySession> AuthenticateCached(const std::string& token);
  // The cache's answer alone; nullopt when the store must be asked.
  std::optional<Result<DirectorySession>> SessionInMemory(const std::string& token);
  // The caller's online peer, or NOT_FOUND / PERMISSION_DENIED.
  Result<PeerOwner> OwnedOnlinePeer(const DirectorySession& session, const std::string& peer_id);
  // The same from the cached owner; nullopt when the store must be asked (a
  // peer not cached, or one that looks expired).
  std::optional<Result<PeerOwner>> OwnedOnlinePeerInMemory(const DirectorySession& session,
                                                           const std::string& peer_id);
  // Whether peer `peer_id` (anyone's) is online, from the cached owner when
  // that says so, else from the store.
  Result<bool> IsOnline(const std::string& peer_id);
  // `owner` if it is the session's user's and online at `now`.
  Result<PeerOwner> OwnedAndOnline(const DirectorySession& session, const std::string& peer_id,
                                   const PeerOwner& owner, int64_t now);
  // The cached time in the store or one this instance received since.
  int64_t NewestHeartbeat(const std::string& peer_id, const PeerOwner& owner) const;
  PeerLease RecordHeartbeat(const std::string& peer_id);
  void Forget(const std::string& peer_id);
  void FlushHeartbeats();
  // Runs store index upkeep for a quarter flush interval at most.
  void CompactIndexes();
  void MaintenanceLoop();

  const std::unique_ptr<DirectoryStore> store_;
  const DirectoryOptions options_;
  const std::chrono::milliseconds session_cache_ttl_;
  const std::chrono::milliseconds flush_interval_;
  const WallClockMs clock_;
  LoginThrottle throttle_;
  SearchCache search_cache_;
  FairGate search_gate_;
  FairGate hash_gate_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, CachedSession> sessions_;  // by session id; GUARDED_BY(mu_)
  std::unordered_map<std::string, CachedPeer> peers_;        // GUARDED_BY(mu_)
  std::unordered_map<std::string, int64_t> local_seen_;      // latest heartbeat; GUARDED_BY(mu_)
  std::unordered_map<std::string, int64_t> pending_;         // not yet flushed; GUARDED_BY(mu_)
  DirectoryCounts counts_;                                   // GUARDED_BY(mu_)
  bool stopping_ = false;                                    // GUARDED_BY(mu_)
  std::condition_variable wake_;
  std::thread maintenance_;
};

}  // namespace ferry
