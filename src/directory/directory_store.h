// Where the directory keeps its state: accounts, sessions, online peers and the
// files they share. One interface, two stores: SQLite (one instance, the
// default) and PostgreSQL (several instances sharing one database).
//
// Times are Unix milliseconds. A peer is online while its last_seen is at or
// after the `online_since` a caller passes (now minus three heartbeat
// intervals); every answer about peers and files leaves the others out, so an
// expired peer disappears at once even before RemoveExpired deletes its rows.
//
// Stores never see bearer tokens or tickets: sessions are keyed by the token's
// SHA-256 and tickets by the ticket's, each in its own table, so neither is
// ever found as the other.
// Every method is thread-safe and may be called from many threads at once.
#pragma once

#include <chrono>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "directory_api/wire_types.h"

namespace ferry {

// The wire types the store keeps as they are (directory_api/wire_types.h).
using dirapi::PeerAddress;
using dirapi::SearchHit;
using dirapi::SharedFile;

struct DirectorySession {
  std::string username;
  int64_t expires_at = 0;
};

// A ticket as the store keeps it: who it names, to which serving peer, and
// until when.
struct DirectoryTicket {
  std::string username;  // the fetcher it was issued to
  std::string peer_id;   // the one serving peer that may check it
  int64_t expires_at = 0;
};

struct PeerOwner {
  std::string username;
  std::string session_id;  // the session that announced the peer
  int64_t last_seen = 0;
};

// An online peer as the store keeps it; the service answers it as a
// dirapi::PeerInfo, in seconds.
struct PeerRow {
  std::string peer_id;
  std::string username;
  std::string address;  // "host:port" where the peer serves files
  std::string cert_sha256;
  int64_t file_count = 0;
  int64_t last_seen = 0;  // Unix milliseconds
};

struct NewPeer {
  std::string peer_id;
  std::string username;
  std::string session_id;
  std::string address;
  std::string cert_sha256;
  std::vector<SharedFile> files;  // paths unique
};

// A later announce. Applied in order: replace_files (when set) replaces the
// whole list, then `removed` paths go, then `added` files are inserted or
// replace the entry with the same path.
struct PeerUpdate {
  std::string peer_id;
  std::optional<std::string> address;
  std::optional<std::string> cert_sha256;
  std::optional<std::vector<SharedFile>> replace_files;
  std::vector<std::string> removed;
  std::vector<SharedFile> added;
};

// Exactly one of `text` (case-insensitive substring of the file name) and
// `sha256` is set. Hits come in the order their first matching file of an
// online peer was indexed (its row id), so a store can stop reading matches as
// soon as it has offset + limit distinct hits, however many files match;
// `limit` and `offset` count hits, not peers.
struct SearchQuery {
  std::string text;
  std::string sha256;
  int limit = 50;
  int offset = 0;
  int max_peers_per_hit = 50;
};

struct DirectoryCounts {
  int64_t online_peers = 0;
  int64_t indexed_files = 0;  // files of online peers
  int64_t accounts = 0;
  bool index_upkeep_pending = false;  // CompactIndexes has work left
  // The in-memory name index: names held and bytes used; zero while it
  // loads or is set aside.
  int64_t names_in_memory = 0;
  int64_t name_index_bytes = 0;
};

class DirectoryStore {
 public:
  virtual ~DirectoryStore() = default;

  // ALREADY_EXISTS if the name is taken.
  virtual Status AddAccount(const std::string& username, const std::string& password_hash,
                            int64_t now) = 0;
  // nullopt when there is no such account.
  virtual Result<std::optional<std::string>> PasswordHash(const std::string& username) = 0;

  virtual Status AddSession(const std::string& session_id, const std::string& username,
                            int64_t expires_at) = 0;
  // nullopt when unknown or expired at `now`.
  virtual Result<std::optional<DirectorySession>> FindSession(const std::string& session_id,
                                                              int64_t now) = 0;
  // Removes the session and every peer announced under it (logout).
  virtual Status RemoveSession(const std::string& session_id) = 0;

  // Keeps a ticket under `ticket_id` (the ticket's SHA-256); ALREADY_EXISTS
  // if the id is taken.
  virtual Status AddTicket(const std::string& ticket_id, const DirectoryTicket& ticket) = 0;
  // nullopt when unknown or expired at `now`.
  virtual Result<std::optional<DirectoryTicket>> FindTicket(const std::string& ticket_id,
                                                            int64_t now) = 0;

  // ALREADY_EXISTS if the peer id is taken.
  virtual Status AddPeer(const NewPeer& peer, int64_t now) = 0;
  // NOT_FOUND if there is no such peer. Also counts as a heartbeat at `now`.
  virtual Status UpdatePeer(const PeerUpdate& update, int64_t now) = 0;
  // nullopt when there is no such peer (online or not).
  virtual Result<std::optional<PeerOwner>> FindPeer(const std::string& peer_id) = 0;
  // Removes a peer and its files; OK if it was already gone.
  virtual Status RemovePeer(const std::string& peer_id) = 0;
  // Raises each peer's last_seen to the given time (never lowers it, so
  // instances that flush out of order agree). Returns the ids of the peers
  // that no longer exist (removed, expired or logged out, perhaps through
  // another instance), so the caller can refuse their next heartbeat.
  virtual Result<std::vector<std::string>> RecordHeartbeats(
      const std::vector<std::pair<std::string, int64_t>>& seen) = 0;

  // Online peers ordered by peer_id.
  virtual Result<std::vector<PeerRow>> OnlinePeers(int64_t online_since, int limit, int offset) = 0;
  // The files of one online peer ordered by path; nullopt if the peer is
  // unknown or offline.
  virtual Result<std::optional<std::vector<SharedFile>>> PeerFiles(const std::string& peer_id,
                                                                   int64_t online_since, int limit,
                                                                   int offset) = 0;
  virtual Result<std::vector<SearchHit>> Search(const SearchQuery& query, int64_t online_since) = 0;
  // The online peers that share content `sha256`, ordered by peer_id, at
  // most `limit`, each with what it announced of the content (a peer that
  // shares it under several paths counts once, with its largest chunk_root,
  // so one that announced a root is not hidden by a copy without one).
  virtual Result<std::vector<dirapi::ContentSource>> Sources(const std::string& sha256,
                                                             int64_t online_since, int limit) = 0;

  // Deletes peers last seen before `online_since`, and sessions and tickets
  // expired at `now`; returns how many peers went.
  virtual Result<int64_t> RemoveExpired(int64_t online_since, int64_t now) = 0;
  virtual Result<DirectoryCounts> Counts(int64_t online_since) = 0;
  // Index upkeep for the maintenance thread, for about `budget` at most, in
  // steps short enough that writers never wait long; cheap when there is
  // nothing to do. True while work remains.
  virtual Result<bool> CompactIndexes(std::chrono::milliseconds budget) = 0;
  // OK when the store answers (for /healthz).
  virtual Status Ping() = 0;
};

}  // namespace ferry
