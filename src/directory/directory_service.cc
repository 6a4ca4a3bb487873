#include "directory/directory_service.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/credentials.h"
#include "core/secrets.h"
#include "core/sha256.h"
#include "core/usable_cpus.h"
#include "directory_api/wire_rules.h"

namespace ferry {
namespace {

const Status kNoSession =
    Status::Unauthenticated("the token is missing, wrong, expired or logged out; log in again");

Status PeerGone(const std::string& peer_id) {
  return Status::NotFound(fmt::format(
      "peer {} is not online (unknown, removed or missed its heartbeats); announce again",
      peer_id));
}

const Status kNotATicket = Status::PermissionDenied("not a valid ticket for this peer");

std::string SessionIdOf(const std::string& token) { return Sha256::HexOf(token); }
// Tickets are kept as sessions are, by their hash, in a table of their own.
std::string TicketIdOf(const std::string& ticket) { return Sha256::HexOf(ticket); }

}  // namespace

WallClockMs RealWallClockMs() {
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

DirectoryService::DirectoryService(std::unique_ptr<DirectoryStore> store, DirectoryOptions options,
                                   WallClockMs clock)
    : store_(std::move(store)),
      options_(options),
      session_cache_ttl_(options.session_cache_ttl),
      flush_interval_(std::clamp(options.heartbeat_interval / 4, std::chrono::milliseconds(10),
                                 options.flush_interval)),
      clock_(std::move(clock)),
      throttle_(options.throttle),
      search_cache_(std::min(options.search_cache_ttl, flush_interval_),
                    options.search_cache_bytes),
      search_gate_(options.search_concurrency),
      hash_gate_(options.hash_concurrency > 0 ? options.hash_concurrency
                                              : std::min(UsableCpus(), 4)) {}

DirectoryService::~DirectoryService() {
  Stop();
  FlushHeartbeats();
}

void DirectoryService::Start() {
  MaintainNow();
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
}

void DirectoryService::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
}

int DirectoryService::heartbeat_seconds() const {
  auto ms = options_.heartbeat_interval.count();
  return static_cast<int>(std::max<int64_t>(1, (ms + 999) / 1000));
}

int64_t DirectoryService::OnlineSince(int64_t now) const {
  return now - options_.missed_heartbeats * options_.heartbeat_interval.count();
}

Result<std::string> DirectoryService::WithHashSlot(
    const std::function<Result<std::string>()>& hash) {
  // Checked before queueing, so callers arriving at the same moment may pass
  // the bound by a few.
  if (hash_gate_.waiting() >= options_.hash_queue) {
    return Status::ResourceExhausted(
        "the directory has too many passwords to check; wait 1 s before trying again");
  }
  auto pass = hash_gate_.Enter();
  return hash();
}

Status DirectoryService::Register(const Credentials& credentials) {
  auto hash = WithHashSlot([&] { return HashPassword(credentials.password); });
  if (!hash.ok()) return hash.status();
  FERRY_RETURN_IF_ERROR(store_->AddAccount(credentials.username, *hash, clock_()));
  spdlog::info("directory: registered user '{}'", credentials.username);
  return Status::Ok();
}

Result<LoginInfo> DirectoryService::Login(const Credentials& credentials,
                                          const std::string& address) {
  const std::string& user = credentials.username;
  FERRY_RETURN_IF_ERROR(throttle_.Begin(user, address));
  auto stored = store_->PasswordHash(user);
  if (!stored.ok()) {
    throttle_.Abandoned(user, address);
    return stored.status();
  }
  auto checked = WithHashSlot([&] { return CheckPassword(*stored, credentials.password); });
  if (!checked.ok() && checked.status().code() == Code::kResourceExhausted) {
    throttle_.Abandoned(user, address);  // not checked, so neither right nor wrong
    return checked.status();
  }
  if (!checked.ok()) {
    int failures = throttle_.Failed(user, address);
    spdlog::warn("directory: failed login for '{}' from {} ({} in a row)", user, address, failures);
    return checked.status();
  }
  throttle_.Succeeded(user, address);
  LoginInfo reply;
  reply.token = RandomHex(32);
  reply.username = user;
  int64_t expires_ms =
      clock_() +
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.token_lifetime).count();
  reply.expires_at = expires_ms / 1000;
  FERRY_RETURN_IF_ERROR(store_->AddSession(SessionIdOf(reply.token), user, expires_ms));
  return reply;
}

Status DirectoryService::Logout(const std::string& token) {
  auto session = Authenticate(token);
  if (!session.ok()) return session.status();
  std::string id = SessionIdOf(token);
  FERRY_RETURN_IF_ERROR(store_->RemoveSession(id));
  search_cache_.Invalidate();
  std::lock_guard lock(mu_);
  sessions_.erase(id);
  // Peers of this session are gone from the store; drop them from the caches
  // so their next heartbeat here is refused at once.
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (it->second.owner.session_id == id) {
      local_seen_.erase(it->first);
      pending_.erase(it->first);
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  return Status::Ok();
}

Result<DirectorySession> DirectoryService::Verify(const std::string& token) {
  return Authenticate(token);
}

Result<DirectorySession> DirectoryService::Authenticate(const std::string& token) {
  if (token.empty()) return kNoSession;
  std::string id = SessionIdOf(token);
  int64_t now = clock_();
  auto found = store_->FindSession(id, now);
  if (!found.ok()) return found.status();
  if (!*found) return kNoSession;
  std::lock_guard lock(mu_);
  sessions_[id] = CachedSession{**found, now};
  return **found;
}

std::optional<Result<DirectorySession>> DirectoryService::SessionInMemory(
    const std::string& token) {
  if (token.empty()) return kNoSession;
  std::string id = SessionIdOf(token);
  int64_t now = clock_();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end() && now - it->second.checked_at < session_cache_ttl_.count() &&
      it->second.session.expires_at > now) {
    return it->second.session;
  }
  return std::nullopt;
}

Result<DirectorySession> DirectoryService::AuthenticateCached(const std::string& token) {
  if (auto known = SessionInMemory(token)) return std::move(*known);
  return Authenticate(token);
}

int64_t DirectoryService::NewestHeartbeat(const std::string& peer_id,
                                          const PeerOwner& owner) const {
  std::lock_guard lock(mu_);
  auto it = local_seen_.find(peer_id);
  return it == local_seen_.end() ? owner.last_seen : std::max(owner.last_seen, it->second);
}

Result<PeerOwner> DirectoryService::OwnedAndOnline(const DirectorySession& session,
                                                   const std::string& peer_id,
                                                   const PeerOwner& owner, int64_t now) {
  if (owner.username != session.username) {
    return Status::PermissionDenied(fmt::format("peer {} belongs to another user", peer_id));
  }
  if (NewestHeartbeat(peer_id, owner) < OnlineSince(now)) {
    Forget(peer_id);
    return PeerGone(peer_id);
  }
  return owner;
}

std::optional<Result<PeerOwner>> DirectoryService::OwnedOnlinePeerInMemory(
    const DirectorySession& session, const std::string& peer_id) {
  int64_t now = clock_();
  std::optional<PeerOwner> owner;
  {
    std::lock_guard lock(mu_);
    auto it = peers_.find(peer_id);
    if (it != peers_.end() && now - it->second.checked_at < options_.peer_cache_ttl.count()) {
      owner = it->second.owner;
    }
  }
  // A miss, or a cached peer that looks expired (its heartbeats may have gone
  // through another instance): the store must be asked.
  if (!owner || NewestHeartbeat(peer_id, *owner) < OnlineSince(now)) return std::nullopt;
  return OwnedAndOnline(session, peer_id, *owner, now);
}

Result<PeerOwner> DirectoryService::OwnedOnlinePeer(const DirectorySession& session,
                                                    const std::string& peer_id) {
  if (auto known = OwnedOnlinePeerInMemory(session, peer_id)) return std::move(*known);
  int64_t now = clock_();
  auto found = store_->FindPeer(peer_id);
  if (!found.ok()) return found.status();
  if (!*found) {
    Forget(peer_id);
    return PeerGone(peer_id);
  }
  {
    std::lock_guard lock(mu_);
    peers_[peer_id] = CachedPeer{**found, now};
  }
  return OwnedAndOnline(session, peer_id, **found, now);
}

Result<bool> DirectoryService::IsOnline(const std::string& peer_id) {
  int64_t now = clock_();
  std::optional<PeerOwner> cached;
  {
    std::lock_guard lock(mu_);
    auto it = peers_.find(peer_id);
    if (it != peers_.end() && now - it->second.checked_at < options_.peer_cache_ttl.count()) {
      cached = it->second.owner;
    }
  }
  if (cached && NewestHeartbeat(peer_id, *cached) >= OnlineSince(now)) return true;
  // Not cached, or looks expired (its heartbeats may have gone through
  // another instance): the store knows.
  auto found = store_->FindPeer(peer_id);
  if (!found.ok()) return found.status();
  if (!*found) return false;
  {
    std::lock_guard lock(mu_);
    peers_[peer_id] = CachedPeer{**found, now};
  }
  return NewestHeartbeat(peer_id, **found) >= OnlineSince(now);
}

void DirectoryService::Forget(const std::string& peer_id) {
  std::lock_guard lock(mu_);
  peers_.erase(peer_id);
  local_seen_.erase(peer_id);
  pending_.erase(peer_id);
}

Result<PeerLease> DirectoryService::Announce(const std::string& token,
                                             const Announcement& request) {
  auto session = Authenticate(token);
  if (!session.ok()) return session.status();
  int64_t now = clock_();
  if (!request.peer_id) {
    NewPeer peer;
    peer.peer_id = RandomHex(16);
    peer.username = session->username;
    peer.session_id = SessionIdOf(token);
    peer.address = *request.address;
    peer.cert_sha256 = *request.cert_sha256;
    peer.files = request.files.value_or(std::vector<SharedFile>{});
    FERRY_RETURN_IF_ERROR(store_->AddPeer(peer, now));
    search_cache_.Invalidate();
    return PeerLease{peer.peer_id, heartbeat_seconds()};
  }
  const std::string& peer_id = *request.peer_id;
  // The cached owner may be stale (another instance may have removed the
  // peer): ask the store. Heartbeats held in memory still count.
  {
    std::lock_guard lock(mu_);
    peers_.erase(peer_id);
  }
  auto owner = OwnedOnlinePeer(*session, peer_id);
  if (!owner.ok()) return owner.status();
  PeerUpdate update;
  update.peer_id = peer_id;
  update.address = request.address;
  update.cert_sha256 = request.cert_sha256;
  update.replace_files = request.files;
  update.removed = request.removed;
  update.added = request.added;
  Status updated = store_->UpdatePeer(update, now);
  if (updated.code() == Code::kNotFound) return PeerGone(peer_id);
  FERRY_RETURN_IF_ERROR(updated);
  search_cache_.Invalidate();
  std::lock_guard lock(mu_);
  local_seen_[peer_id] = now;
  return PeerLease{peer_id, heartbeat_seconds()};
}

Result<PeerLease> DirectoryService::Heartbeat(const std::string& token,
                                              const std::string& peer_id) {
  auto session = AuthenticateCached(token);
  if (!session.ok()) return session.status();
  auto owner = OwnedOnlinePeer(*session, peer_id);
  if (!owner.ok()) return owner.status();
  return RecordHeartbeat(peer_id);
}

std::optional<Result<PeerLease>> DirectoryService::HeartbeatOnLoop(const std::string& token,
                                                                   const std::string& peer_id) {
  auto session = SessionInMemory(token);
  if (!session) return std::nullopt;
  if (!session->ok()) return session->status();
  auto owner = OwnedOnlinePeerInMemory(**session, peer_id);
  if (!owner) return std::nullopt;
  if (!owner->ok()) return owner->status();
  return RecordHeartbeat(peer_id);
}

PeerLease DirectoryService::RecordHeartbeat(const std::string& peer_id) {
  int64_t now = clock_();
  std::lock_guard lock(mu_);
  local_seen_[peer_id] = now;
  pending_[peer_id] = now;
  return PeerLease{peer_id, heartbeat_seconds()};
}

Status DirectoryService::RemovePeer(const std::string& token, const std::string& peer_id) {
  auto session = Authenticate(token);
  if (!session.ok()) return session.status();
  auto found = store_->FindPeer(peer_id);
  if (!found.ok()) return found.status();
  if (!*found) return PeerGone(peer_id);
  if ((*found)->username != session->username) {
    return Status::PermissionDenied(fmt::format("peer {} belongs to another user", peer_id));
  }
  FERRY_RETURN_IF_ERROR(store_->RemovePeer(peer_id));
  search_cache_.Invalidate();
  Forget(peer_id);
  return Status::Ok();
}

Result<std::vector<dirapi::PeerInfo>> DirectoryService::Peers(const std::string& token, Page page) {
  auto session = AuthenticateCached(token);
  if (!session.ok()) return session.status();
  auto online = store_->OnlinePeers(OnlineSince(clock_()), page.limit, page.offset);
  if (!online.ok()) return online.status();
  std::vector<dirapi::PeerInfo> peers;
  peers.reserve(online->size());
  for (auto& p : *online) {
    peers.push_back(dirapi::PeerInfo{std::move(p.peer_id), std::move(p.username),
                                     std::move(p.address), std::move(p.cert_sha256), p.file_count,
                                     p.last_seen / 1000});
  }
  return peers;
}

Result<std::vector<SharedFile>> DirectoryService::PeerFiles(const std::string& token,
                                                            const std::string& peer_id, Page page) {
  auto session = AuthenticateCached(token);
  if (!session.ok()) return session.status();
  auto files = store_->PeerFiles(peer_id, OnlineSince(clock_()), page.limit, page.offset);
  if (!files.ok()) return files.status();
  if (!*files) return PeerGone(peer_id);
  return std::move(**files);
}

Result<std::vector<dirapi::ContentSource>> DirectoryService::Sources(const std::string& token,
                                                                     const std::string& sha256,
                                                                     int limit) {
  auto session = AuthenticateCached(token);
  if (!session.ok()) return session.status();
  return store_->Sources(sha256, OnlineSince(clock_()), limit);
}

Result<dirapi::Ticket> DirectoryService::IssueTicket(const std::string& token,
                                                     const std::string& peer_id) {
  // Not from the cache: a session logged out through another instance gets
  // no ticket.
  auto session = Authenticate(token);
  if (!session.ok()) return session.status();
  auto online = IsOnline(peer_id);
  if (!online.ok()) return online.status();
  if (!*online) {
    return Status::NotFound(
        fmt::format("peer {} is not online (unknown, removed or missed its heartbeats)", peer_id));
  }
  int64_t now = clock_();
  int64_t lifetime =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.ticket_lifetime).count();
  DirectoryTicket kept{session->username, peer_id, std::min(now + lifetime, session->expires_at)};
  dirapi::Ticket ticket{RandomHex(dirapi::kTicketHexDigits / 2), peer_id, kept.expires_at / 1000};
  FERRY_RETURN_IF_ERROR(store_->AddTicket(TicketIdOf(ticket.ticket), kept));
  return ticket;
}

Result<dirapi::TicketHolder> DirectoryService::CheckTicket(const std::string& token,
                                                           const dirapi::TicketCheck& check) {
  auto session = AuthenticateCached(token);
  if (!session.ok()) return session.status();
  auto found = store_->FindTicket(TicketIdOf(check.ticket), clock_());
  if (!found.ok()) return found.status();
  if (!*found || (*found)->peer_id != check.peer_id) return kNotATicket;
  auto owner = OwnedOnlinePeer(*session, check.peer_id);
  if (!owner.ok()) {
    const Code code = owner.status().code();
    if (code == Code::kNotFound || code == Code::kPermissionDenied) return kNotATicket;
    return owner.status();
  }
  return dirapi::TicketHolder{(*found)->username, (*found)->expires_at / 1000};
}

Result<SharedSearchAnswer> DirectoryService::Search(const std::string& token,
                                                    const SearchQuery& query, bool cache_missed) {
  if (!cache_missed) {
    if (auto answered = SearchOnLoop(token, query, &cache_missed)) return std::move(*answered);
  }
  auto session = AuthenticateCached(token);
  if (!session.ok()) return session.status();
  auto pass = search_gate_.Enter();
  int64_t now = clock_();
  // A search that queued may find its query answered by one ahead of it.
  if (pass.waited() || !cache_missed) {
    if (auto cached = search_cache_.Find(query, now)) {
      search_cache_.Count(true);
      return cached;
    }
  }
  search_cache_.Count(false);
  auto ticket = search_cache_.Begin();
  auto hits = store_->Search(query, OnlineSince(now));
  if (!hits.ok()) return hits.status();
  // Encoded here, in the queue's turn, so that a burst of searches is
  // answered in arrival order, body and all.
  auto answer = EncodeSearchAnswer(std::move(*hits));
  search_cache_.Store(query, ticket, now, answer);
  return answer;
}

std::optional<Result<SharedSearchAnswer>> DirectoryService::SearchOnLoop(const std::string& token,
                                                                         const SearchQuery& query,
                                                                         bool* cache_missed) {
  auto session = SessionInMemory(token);
  if (!session) return std::nullopt;
  if (!session->ok()) return session->status();
  auto cached = search_cache_.Find(query, clock_());
  if (!cached) {
    if (cache_missed != nullptr) *cache_missed = true;
    return std::nullopt;
  }
  search_cache_.Count(true);
  return cached;
}

Status DirectoryService::Health() { return store_->Ping(); }

DirectoryCounts DirectoryService::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void DirectoryService::FlushHeartbeats() {
  std::vector<std::pair<std::string, int64_t>> batch;
  {
    std::lock_guard lock(mu_);
    if (pending_.empty()) return;
    batch.assign(pending_.begin(), pending_.end());
    pending_.clear();
  }
  auto gone = store_->RecordHeartbeats(batch);
  if (gone.ok()) {
    if (!gone->empty()) search_cache_.Invalidate();
    // Removed or logged out elsewhere: refuse their next heartbeat here, and
    // stop trusting the session that announced them.
    std::lock_guard lock(mu_);
    for (const auto& peer_id : *gone) {
      auto it = peers_.find(peer_id);
      if (it != peers_.end()) {
        sessions_.erase(it->second.owner.session_id);
        peers_.erase(it);
      }
      local_seen_.erase(peer_id);
    }
    return;
  }
  spdlog::warn("directory: could not record {} heartbeats: {}", batch.size(),
               gone.status().ToString());
  std::lock_guard lock(mu_);
  for (auto& [peer_id, when] : batch) {
    auto& slot = pending_[peer_id];
    slot = std::max(slot, when);
  }
}

void DirectoryService::CompactIndexes() {
  auto pending = store_->CompactIndexes(flush_interval_ / 4);
  if (!pending.ok()) {
    spdlog::warn("directory: index upkeep failed: {}", pending.status().ToString());
  }
  std::lock_guard lock(mu_);
  counts_.index_upkeep_pending = pending.ok() && *pending;
}

void DirectoryService::MaintainNow() {
  FlushHeartbeats();
  int64_t now = clock_();
  auto removed = store_->RemoveExpired(OnlineSince(now), now);
  if (!removed.ok()) {
    spdlog::warn("directory: expiry failed: {}", removed.status().ToString());
  } else if (*removed > 0) {
    search_cache_.Invalidate();
    spdlog::info("directory: {} peers missed their heartbeats and left", *removed);
  }
  CompactIndexes();
  auto counts = store_->Counts(OnlineSince(now));
  std::lock_guard lock(mu_);
  if (counts.ok()) {
    // The store counts; whether upkeep is pending is ours.
    const bool pending = counts_.index_upkeep_pending;
    counts_ = *counts;
    counts_.index_upkeep_pending = pending;
  }
  // Cached entries past their use are dropped so the caches stay small.
  std::erase_if(sessions_, [&](const auto& kv) {
    return now - kv.second.checked_at >= session_cache_ttl_.count();
  });
  std::erase_if(peers_, [&](const auto& kv) {
    return now - kv.second.checked_at >= options_.peer_cache_ttl.count();
  });
  std::erase_if(local_seen_, [&](const auto& kv) { return kv.second < OnlineSince(now); });
}

void DirectoryService::MaintenanceLoop() {
  auto next_expiry = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, flush_interval_, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // Heartbeats are flushed every pass; expiry and counts, which scan, once
    // per heartbeat interval at most.
    if (std::chrono::steady_clock::now() >= next_expiry) {
      MaintainNow();
      next_expiry =
          std::chrono::steady_clock::now() +
          std::min<std::chrono::milliseconds>(options_.heartbeat_interval, std::chrono::seconds(5));
    } else {
      FlushHeartbeats();
      // After many writes (a bulk load), upkeep goes on every pass until done.
      lock.lock();
      const bool pending = counts_.index_upkeep_pending;
      lock.unlock();
      if (pending) CompactIndexes();
    }
    lock.lock();
  }
}

}  // namespace ferry
