#include "directory/sqlite_directory_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/sqlite.h"
#include "directory/name_index.h"
#include "directory/peer_book.h"
#include "directory/store_text.h"

namespace ferry {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS accounts(
  username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  session_id TEXT PRIMARY KEY, username TEXT NOT NULL, expires_ms INTEGER NOT NULL);
-- Tickets by their SHA-256; databases made before tickets gain the table.
CREATE TABLE IF NOT EXISTS tickets(
  ticket_id TEXT PRIMARY KEY, username TEXT NOT NULL, peer_id TEXT NOT NULL,
  expires_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_expires ON tickets(expires_ms);
CREATE TABLE IF NOT EXISTS peers(
  peer_id TEXT PRIMARY KEY, username TEXT NOT NULL, session_id TEXT NOT NULL,
  address TEXT NOT NULL, cert_sha256 TEXT NOT NULL, last_seen INTEGER NOT NULL,
  file_count INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS peers_session ON peers(session_id);
CREATE INDEX IF NOT EXISTS peers_last_seen ON peers(last_seen);
CREATE TABLE IF NOT EXISTS files(
  id INTEGER PRIMARY KEY, peer_id TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, mtime INTEGER NOT NULL,
  chunk_root TEXT NOT NULL DEFAULT '', UNIQUE(peer_id, path));
-- By content, then peer: a hit's peers come in peer order straight from the
-- index, without reading the files table.
DROP INDEX IF EXISTS files_sha256;
DROP INDEX IF EXISTS files_sha256_peer;
CREATE INDEX IF NOT EXISTS files_content_peer ON files(sha256, size, name, peer_id);
-- The trigram index answers substring queries of 3 or more characters, ignoring
-- case; it holds only the names and follows the files table through triggers.
CREATE VIRTUAL TABLE IF NOT EXISTS files_names USING fts5(
  name, content='files', content_rowid='id', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS files_ai AFTER INSERT ON files BEGIN
  INSERT INTO files_names(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER IF NOT EXISTS files_ad AFTER DELETE ON files BEGIN
  INSERT INTO files_names(files_names, rowid, name) VALUES ('delete', old.id, old.name);
END;
)sql";

// A few connections, each used by one thread at a time.
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, Db* db) : pool_(pool), db_(db) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_->Return(db_); }
    Db& operator*() const { return *db_; }
    Db* operator->() const { return db_; }

   private:
    ConnectionPool* pool_;
    Db* db_;
  };

  explicit ConnectionPool(std::vector<Db> dbs) {
    for (auto& db : dbs) {
      all_.push_back(std::make_unique<Db>(std::move(db)));
      free_.push_back(all_.back().get());
    }
  }
  Lease Acquire() {
    std::unique_lock lock(mu_);
    available_.wait(lock, [&] { return !free_.empty(); });
    Db* db = free_.back();
    free_.pop_back();
    return Lease(this, db);
  }

 private:
  void Return(Db* db) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(db);
    }
    available_.notify_one();
  }
  std::vector<std::unique_ptr<Db>> all_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<Db*> free_;  // GUARDED_BY(mu_)
};

// Steps `stmt` to the end, calling `row` for each result row.
template <typename Fn>
Status ForEachRow(Statement& stmt, Fn row) {
  for (;;) {
    auto more = stmt.Step();
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
    row(stmt);
  }
}

// Databases made before files had a chunk_root get the column, empty for
// every file they hold.
Status AddChunksRootColumn(Db& db) {
  {
    auto has = db.Prepare("SELECT 1 FROM pragma_table_info('files') WHERE name = 'chunk_root'");
    if (!has.ok()) return has.status();
    auto found = has->Step();
    if (!found.ok()) return found.status();
    if (*found) return Status::Ok();
  }
  return db.Exec("ALTER TABLE files ADD COLUMN chunk_root TEXT NOT NULL DEFAULT ''");
}

// FTS5 query for a literal substring: one quoted string, quotes doubled.
std::string FtsPhrase(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Counts UTF-8 characters (not bytes): the trigram index needs three.
size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// A change to the files table, for the in-memory name index once the
// transaction that made it has committed.
struct NameChange {
  int64_t id;
  std::optional<std::string> folded_name;  // nullopt: the row went
};

class SqliteDirectoryStore final : public DirectoryStore {
 public:
  SqliteDirectoryStore(Db writer, std::vector<Db> readers, std::string path)
      : writer_(std::move(writer)), readers_(std::move(readers)), path_(std::move(path)) {
    book_.Enable();
  }

  Status LoadNames() {
    std::lock_guard lock(write_mu_);
    return LoadNamesLocked();
  }

  Status AddAccount(const std::string& username, const std::string& password_hash,
                    int64_t now) override {
    std::lock_guard lock(write_mu_);
    auto stmt = writer_.Prepare(
        "INSERT INTO accounts(username, password_hash, created_ms) VALUES(?,?,?) "
        "ON CONFLICT(username) DO NOTHING");
    if (!stmt.ok()) return stmt.status();
    FERRY_RETURN_IF_ERROR(stmt->Bind(1, username).Bind(2, password_hash).Bind(3, now).Run());
    if (writer_.Changes() == 0) {
      return Status::AlreadyExists(fmt::format("the user name '{}' is taken", username));
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> PasswordHash(const std::string& username) override {
    auto db = readers_.Acquire();
    auto stmt = db->Prepare("SELECT password_hash FROM accounts WHERE username = ?");
    if (!stmt.ok()) return stmt.status();
    std::optional<std::string> hash;
    FERRY_RETURN_IF_ERROR(
        ForEachRow(stmt->Bind(1, username), [&](Statement& s) { hash = s.Text(0); }));
    return hash;
  }

  Status AddSession(const std::string& session_id, const std::string& username,
                    int64_t expires_at) override {
    std::lock_guard lock(write_mu_);
    auto stmt =
        writer_.Prepare("INSERT INTO sessions(session_id, username, expires_ms) VALUES(?,?,?)");
    if (!stmt.ok()) return stmt.status();
    return stmt->Bind(1, session_id).Bind(2, username).Bind(3, expires_at).Run();
  }

  Result<std::optional<DirectorySession>> FindSession(const std::string& session_id,
                                                      int64_t now) override {
    auto db = readers_.Acquire();
    auto stmt = db->Prepare(
        "SELECT username, expires_ms FROM sessions WHERE session_id = ? AND expires_ms > ?");
    if (!stmt.ok()) return stmt.status();
    std::optional<DirectorySession> session;
    FERRY_RETURN_IF_ERROR(ForEachRow(stmt->Bind(1, session_id).Bind(2, now), [&](Statement& s) {
      session = DirectorySession{s.Text(0), s.Int(1)};
    }));
    return session;
  }

  Status RemoveSession(const std::string& session_id) override {
    std::lock_guard lock(write_mu_);
    auto txn = BeginWrite();
    if (!txn.ok()) return txn.status();
    FERRY_RETURN_IF_ERROR(DeleteFiles(
        "DELETE FROM files WHERE peer_id IN (SELECT peer_id FROM peers WHERE session_id = ?)",
        session_id));
    FERRY_RETURN_IF_ERROR(Run("DELETE FROM peers WHERE session_id = ?", session_id));
    FERRY_RETURN_IF_ERROR(Run("DELETE FROM sessions WHERE session_id = ?", session_id));
    return CommitWrite(*txn);
  }

  Status AddTicket(const std::string& ticket_id, const DirectoryTicket& ticket) override {
    std::lock_guard lock(write_mu_);
    auto stmt = writer_.Prepare(
        "INSERT INTO tickets(ticket_id, username, peer_id, expires_ms) VALUES(?,?,?,?) "
        "ON CONFLICT(ticket_id) DO NOTHING");
    if (!stmt.ok()) return stmt.status();
    FERRY_RETURN_IF_ERROR(stmt->Bind(1, ticket_id)
                              .Bind(2, ticket.username)
                              .Bind(3, ticket.peer_id)
                              .Bind(4, ticket.expires_at)
                              .Run());
    if (writer_.Changes() == 0) return Status::AlreadyExists("the ticket exists already");
    return Status::Ok();
  }

  Result<std::optional<DirectoryTicket>> FindTicket(const std::string& ticket_id,
                                                    int64_t now) override {
    auto db = readers_.Acquire();
    auto stmt = db->Prepare(
        "SELECT username, peer_id, expires_ms FROM tickets WHERE ticket_id = ? AND expires_ms > ?");
    if (!stmt.ok()) return stmt.status();
    std::optional<DirectoryTicket> ticket;
    FERRY_RETURN_IF_ERROR(ForEachRow(stmt->Bind(1, ticket_id).Bind(2, now), [&](Statement& s) {
      ticket = DirectoryTicket{s.Text(0), s.Text(1), s.Int(2)};
    }));
    return ticket;
  }

  Status AddPeer(const NewPeer& peer, int64_t now) override {
    std::lock_guard lock(write_mu_);
    auto txn = BeginWrite();
    if (!txn.ok()) return txn.status();
    auto stmt = writer_.Prepare(
        "INSERT INTO peers(peer_id, username, session_id, address, cert_sha256, last_seen) "
        "VALUES(?,?,?,?,?,?) ON CONFLICT(peer_id) DO NOTHING");
    if (!stmt.ok()) return stmt.status();
    FERRY_RETURN_IF_ERROR(stmt->Bind(1, peer.peer_id)
                              .Bind(2, peer.username)
                              .Bind(3, peer.session_id)
                              .Bind(4, peer.address)
                              .Bind(5, peer.cert_sha256)
                              .Bind(6, now)
                              .Run());
    if (writer_.Changes() == 0) {
      return Status::AlreadyExists(fmt::format("peer id {} is taken", peer.peer_id));
    }
    FERRY_RETURN_IF_ERROR(InsertFiles(peer.peer_id, peer.files));
    FERRY_RETURN_IF_ERROR(RecountFiles(peer.peer_id));
    FERRY_RETURN_IF_ERROR(CommitWrite(*txn));
    book_.Forget(peer.peer_id);  // the id may have been used before
    return Status::Ok();
  }

  Status UpdatePeer(const PeerUpdate& update, int64_t now) override {
    std::lock_guard lock(write_mu_);
    auto txn = BeginWrite();
    if (!txn.ok()) return txn.status();
    auto stmt = writer_.Prepare(
        "UPDATE peers SET address = coalesce(?, address), cert_sha256 = coalesce(?, "
        "cert_sha256), last_seen = max(last_seen, ?) WHERE peer_id = ?");
    if (!stmt.ok()) return stmt.status();
    if (update.address) {
      stmt->Bind(1, *update.address);
    } else {
      stmt->BindNull(1);
    }
    if (update.cert_sha256) {
      stmt->Bind(2, *update.cert_sha256);
    } else {
      stmt->BindNull(2);
    }
    FERRY_RETURN_IF_ERROR(stmt->Bind(3, now).Bind(4, update.peer_id).Run());
    if (writer_.Changes() == 0) {
      return Status::NotFound(fmt::format("no peer {}", update.peer_id));
    }
    if (update.replace_files) {
      FERRY_RETURN_IF_ERROR(DeleteFiles("DELETE FROM files WHERE peer_id = ?", update.peer_id));
      FERRY_RETURN_IF_ERROR(InsertFiles(update.peer_id, *update.replace_files));
    }
    if (!update.removed.empty()) {
      ++index_writes_;
      auto remove =
          writer_.Prepare("DELETE FROM files WHERE peer_id = ? AND path = ? RETURNING id");
      if (!remove.ok()) return remove.status();
      for (const auto& path : update.removed) {
        remove->Reset();
        FERRY_RETURN_IF_ERROR(NoteRemoved(remove->Bind(1, update.peer_id).Bind(2, path)));
      }
    }
    FERRY_RETURN_IF_ERROR(InsertFiles(update.peer_id, update.added));
    FERRY_RETURN_IF_ERROR(RecountFiles(update.peer_id));
    FERRY_RETURN_IF_ERROR(CommitWrite(*txn));
    if (update.address || update.cert_sha256) book_.Forget(update.peer_id);
    return Status::Ok();
  }

  Result<std::optional<PeerOwner>> FindPeer(const std::string& peer_id) override {
    auto db = readers_.Acquire();
    auto stmt = db->Prepare("SELECT username, session_id, last_seen FROM peers WHERE peer_id = ?");
    if (!stmt.ok()) return stmt.status();
    std::optional<PeerOwner> owner;
    FERRY_RETURN_IF_ERROR(ForEachRow(stmt->Bind(1, peer_id), [&](Statement& s) {
      owner = PeerOwner{s.Text(0), s.Text(1), s.Int(2)};
    }));
    return owner;
  }

  Status RemovePeer(const std::string& peer_id) override {
    std::lock_guard lock(write_mu_);
    auto txn = BeginWrite();
    if (!txn.ok()) return txn.status();
    FERRY_RETURN_IF_ERROR(DeleteFiles("DELETE FROM files WHERE peer_id = ?", peer_id));
    FERRY_RETURN_IF_ERROR(Run("DELETE FROM peers WHERE peer_id = ?", peer_id));
    return CommitWrite(*txn);
  }

  Result<std::vector<std::string>> RecordHeartbeats(
      const std::vector<std::pair<std::string, int64_t>>& seen) override {
    std::vector<std::string> gone;
    if (seen.empty()) return gone;
    std::lock_guard lock(write_mu_);
    auto txn = BeginWrite();
    if (!txn.ok()) return txn.status();
    auto stmt = writer_.Prepare("UPDATE peers SET last_seen = max(last_seen, ?) WHERE peer_id = ?");
    if (!stmt.ok()) return stmt.status();
    for (const auto& [peer_id, when] : seen) {
      stmt->Reset();
      FERRY_RETURN_IF_ERROR(stmt->Bind(1, when).Bind(2, peer_id).Run());
      if (writer_.Changes() == 0) gone.push_back(peer_id);
    }
    FERRY_RETURN_IF_ERROR(CommitWrite(*txn));
    for (const auto& [peer_id, when] : seen) {
      if (std::find(gone.begin(), gone.end(), peer_id) == gone.end()) book_.Touch(peer_id, when);
    }
    return gone;
  }

  Result<std::vector<PeerRow>> OnlinePeers(int64_t online_since, int limit, int offset) override {
    auto db = readers_.Acquire();
    auto stmt = db->Prepare(
        "SELECT peer_id, username, address, cert_sha256, file_count, last_seen FROM peers "
        "WHERE last_seen >= ? ORDER BY peer_id LIMIT ? OFFSET ?");
    if (!stmt.ok()) return stmt.status();
    std::vector<PeerRow> peers;
    FERRY_RETURN_IF_ERROR(ForEachRow(
        stmt->Bind(1, online_since).Bind(2, int64_t{limit}).Bind(3, int64_t{offset}),
        [&](Statement& s) {
          peers.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5)});
        }));
    return peers;
  }

  Result<std::optional<std::vector<SharedFile>>> PeerFiles(const std::string& peer_id,
                                                           int64_t online_since, int limit,
                                                           int offset) override {
    auto db = readers_.Acquire();
    auto online = db->Prepare("SELECT 1 FROM peers WHERE peer_id = ? AND last_seen >= ?");
    if (!online.ok()) return online.status();
    auto found = online->Bind(1, peer_id).Bind(2, online_since).Step();
    if (!found.ok()) return found.status();
    if (!*found) return std::optional<std::vector<SharedFile>>();
    auto stmt = db->Prepare(
        "SELECT path, size, sha256, mtime, chunk_root FROM files WHERE peer_id = ? ORDER BY path "
        "LIMIT ? OFFSET ?");
    if (!stmt.ok()) return stmt.status();
    std::vector<SharedFile> files;
    FERRY_RETURN_IF_ERROR(ForEachRow(
        stmt->Bind(1, peer_id).Bind(2, int64_t{limit}).Bind(3, int64_t{offset}), [&](Statement& s) {
          files.push_back({s.Text(0), s.Int(1), s.Text(2), s.Int(3), s.Text(4)});
        }));
    return std::optional<std::vector<SharedFile>>(std::move(files));
  }

  Result<std::vector<dirapi::ContentSource>> Sources(const std::string& sha256,
                                                     int64_t online_since, int limit) override {
    auto db = readers_.Acquire();
    // files_content_peer yields the content's rows in peer order.
    auto stmt = db->Prepare(
        "SELECT p.peer_id, p.address, p.cert_sha256, max(f.size), max(f.chunk_root) "
        "FROM files f JOIN peers p ON p.peer_id = f.peer_id "
        "WHERE f.sha256 = ? AND p.last_seen >= ? GROUP BY p.peer_id ORDER BY p.peer_id LIMIT ?");
    if (!stmt.ok()) return stmt.status();
    std::vector<dirapi::ContentSource> sources;
    FERRY_RETURN_IF_ERROR(ForEachRow(
        stmt->Bind(1, sha256).Bind(2, online_since).Bind(3, int64_t{limit}), [&](Statement& s) {
          sources.push_back({{s.Text(0), s.Text(1), s.Text(2)}, s.Int(3), s.Text(4)});
        }));
    return sources;
  }

  Result<std::vector<SearchHit>> Search(const SearchQuery& query, int64_t online_since) override {
    auto db = readers_.Acquire();
    // Matches are read in row-id order (the order they were indexed) and
    // stop as soon as the page is full: a word that thousands of files share
    // costs a page's worth of rows, not a sort of every match.
    std::vector<SearchHit> hits;
    std::unordered_set<std::string> seen;
    const size_t wanted = static_cast<size_t>(query.offset) + static_cast<size_t>(query.limit);
    // Counts a match of an online peer; false once the page is full.
    auto take = [&](SearchHit hit) {
      std::string key = fmt::format("{}/{}/{}", hit.sha256, hit.size, hit.name);
      if (!seen.insert(std::move(key)).second) return true;
      if (seen.size() > static_cast<size_t>(query.offset)) hits.push_back(std::move(hit));
      return seen.size() < wanted;
    };
    // An ASCII text of three or more characters (nearly every search) is
    // answered from the in-memory name index: the matching ids in order, then
    // their rows. The text and names are folded as FTS5 folds them for ASCII,
    // so the answers are the same, at a fraction of the cost for a text that
    // is rare or spans words.
    std::shared_ptr<NameIndex> names;
    if (query.sha256.empty() && Utf8Length(query.text) >= 3 && IsAscii(query.text)) {
      names = NamesForSearch();
    }
    if (names) {
      // Whether a row's peer is online comes from the peer book (see
      // OnlinePeer), as do the hits' peers.
      auto reused = db->Reuse("SELECT name, size, sha256, peer_id FROM files WHERE id = ?1");
      if (!reused.ok()) return reused.status();
      Statement& row = **reused;
      const std::string folded = FoldAscii(query.text);
      int64_t last_id = 0;
      size_t batch = wanted + wanted / 2 + 16;
      for (bool more = wanted > 0; more;) {
        auto ids = names->Find(folded, last_id, batch);
        for (int64_t id : ids) {
          row.Reset();
          auto found = row.Bind(1, id).Step();
          if (!found.ok()) return found.status();
          if (!*found) {
            names->Forget(id);  // deleted; the index hears of that after the commit
            continue;
          }
          SearchHit hit{row.Text(0), row.Int(1), row.Text(2), {}};
          // The id may have been reused by a row whose name is on its way
          // to the index: only a name that matches counts.
          if (FoldAscii(hit.name).find(folded) == std::string::npos) continue;
          auto online = OnlinePeer(*db, row.Text(3), online_since);
          if (!online.ok()) return online.status();
          if (!*online) continue;
          if (!take(std::move(hit))) break;
        }
        more = seen.size() < wanted && ids.size() == batch;
        if (more) last_id = ids.back();
        batch *= 4;
      }
      return AttachBookedPeers(*db, hits, online_since, query.max_peers_per_hit);
    }
    std::string source;
    std::string needle;
    std::string order = "f.id";
    if (!query.sha256.empty()) {
      source = "files f WHERE f.sha256 = ?1";
      needle = query.sha256;
    } else if (Utf8Length(query.text) >= 3) {
      source = "files_names JOIN files f ON f.id = files_names.rowid WHERE files_names MATCH ?1";
      needle = FtsPhrase(query.text);
      order = "files_names.rowid";  // FTS5 yields rowids in order: no sort
    } else {
      // Too short for trigrams: a scan in row order, stopped by the page.
      source = "files f WHERE f.name LIKE ?1 ESCAPE '\\'";
      needle = LikeContains(query.text);
    }
    auto matches = db->Prepare(fmt::format(
        "SELECT f.name, f.size, f.sha256 FROM {} AND EXISTS (SELECT 1 FROM peers p WHERE "
        "p.peer_id = f.peer_id AND p.last_seen >= ?2) ORDER BY {}",
        source, order));
    if (!matches.ok()) return matches.status();
    matches->Bind(1, needle).Bind(2, online_since);
    while (seen.size() < wanted) {
      auto row = matches->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (!take(SearchHit{matches->Text(0), matches->Int(1), matches->Text(2), {}})) break;
    }
    return AttachPeers(*db, hits, online_since, query.max_peers_per_hit);
  }

  // Each hit's online peers, in peer_id order, up to `max_peers_per_hit`:
  // `rows` lists a hit's peer ids first (column 0) once its content is bound,
  // and `peer_of` says whether the row's peer is online, and where.
  template <typename Bind, typename PeerOf>
  static Result<std::vector<SearchHit>> FillHitPeers(Statement& rows, std::vector<SearchHit>& hits,
                                                     int max_peers_per_hit, Bind bind,
                                                     PeerOf peer_of) {
    // A peer sharing the same content under two paths comes twice, next to
    // itself: skipped here rather than with a GROUP BY, which would read all
    // of a popular file's rows before the first.
    const size_t max_peers = static_cast<size_t>(std::max(0, max_peers_per_hit));
    for (auto& hit : hits) {
      rows.Reset();
      rows.Bind(1, hit.sha256).Bind(2, hit.size).Bind(3, hit.name);
      bind(rows);
      while (hit.peers.size() < max_peers) {
        auto row = rows.Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        std::string peer_id = rows.Text(0);
        if (!hit.peers.empty() && hit.peers.back().peer_id == peer_id) continue;
        Result<std::optional<PeerAddress>> peer = peer_of(std::move(peer_id));
        if (!peer.ok()) return peer.status();
        if (*peer) hit.peers.push_back(std::move(**peer));
      }
    }
    return std::move(hits);
  }

  // Peers and whether they are online from the database.
  static Result<std::vector<SearchHit>> AttachPeers(Db& db, std::vector<SearchHit>& hits,
                                                    int64_t online_since, int max_peers_per_hit) {
    auto reused = db.Reuse(
        "SELECT f.peer_id, p.address, p.cert_sha256 FROM files f "
        "JOIN peers p ON p.peer_id = f.peer_id WHERE f.sha256 = ? AND f.size = ? AND f.name = ? "
        "AND p.last_seen >= ? ORDER BY f.peer_id");
    if (!reused.ok()) return reused.status();
    Statement& rows = **reused;
    return FillHitPeers(
        rows, hits, max_peers_per_hit, [&](Statement& s) { s.Bind(4, online_since); },
        [&](std::string peer_id) -> Result<std::optional<PeerAddress>> {
          return std::optional<PeerAddress>(
              PeerAddress{std::move(peer_id), rows.Text(1), rows.Text(2)});
        });
  }

  // A peer's address if it is online: from the book, or else read (and kept
  // there). Only for searches that use the name index: the book, like the
  // index, misses what another process wrote until the data_version check
  // sees it.
  Result<std::optional<BookedPeer>> OnlinePeer(Db& db, const std::string& peer_id,
                                               int64_t online_since) {
    if (auto known = book_.Find(peer_id, online_since)) return known;
    const uint64_t generation = book_.generation();  // before the read: see PeerBook::Fill
    auto reused = db.Reuse("SELECT address, cert_sha256, last_seen FROM peers WHERE peer_id = ?");
    if (!reused.ok()) return reused.status();
    Statement& stmt = **reused;
    auto found = stmt.Bind(1, peer_id).Step();
    if (!found.ok()) return found.status();
    if (!*found) return std::optional<BookedPeer>();
    BookedPeer peer{stmt.Text(0), stmt.Text(1), stmt.Int(2)};
    book_.Fill({{peer_id, peer}}, generation);
    if (peer.last_seen < online_since) return std::optional<BookedPeer>();
    return std::optional<BookedPeer>(std::move(peer));
  }

  // As AttachPeers, with each peer's address and whether it is online from
  // OnlinePeer: the rows come from files_content_peer alone.
  Result<std::vector<SearchHit>> AttachBookedPeers(Db& db, std::vector<SearchHit>& hits,
                                                   int64_t online_since, int max_peers_per_hit) {
    auto reused = db.Reuse(
        "SELECT peer_id FROM files WHERE sha256 = ? AND size = ? AND name = ? ORDER BY peer_id");
    if (!reused.ok()) return reused.status();
    return FillHitPeers(
        **reused, hits, max_peers_per_hit, [](Statement&) {},
        [&](std::string peer_id) -> Result<std::optional<PeerAddress>> {
          auto online = OnlinePeer(db, peer_id, online_since);
          if (!online.ok()) return online.status();
          if (!*online) return std::optional<PeerAddress>();
          return std::optional<PeerAddress>(PeerAddress{std::move(peer_id),
                                                        std::move((*online)->address),
                                                        std::move((*online)->cert_sha256)});
        });
  }

  Result<int64_t> RemoveExpired(int64_t online_since, int64_t now) override {
    std::lock_guard lock(write_mu_);
    auto txn = BeginWrite();
    if (!txn.ok()) return txn.status();
    FERRY_RETURN_IF_ERROR(DeleteFiles(
        "DELETE FROM files WHERE peer_id IN (SELECT peer_id FROM peers WHERE last_seen < ?)",
        online_since));
    FERRY_RETURN_IF_ERROR(Run("DELETE FROM peers WHERE last_seen < ?", online_since));
    int64_t removed = writer_.Changes();
    FERRY_RETURN_IF_ERROR(Run("DELETE FROM sessions WHERE expires_ms <= ?", now));
    FERRY_RETURN_IF_ERROR(Run("DELETE FROM tickets WHERE expires_ms <= ?", now));
    FERRY_RETURN_IF_ERROR(CommitWrite(*txn));
    book_.Prune(online_since);
    return removed;
  }

  Result<DirectoryCounts> Counts(int64_t online_since) override {
    auto db = readers_.Acquire();
    auto stmt = db->Prepare(
        "SELECT count(*), coalesce(sum(file_count), 0), (SELECT count(*) FROM accounts) "
        "FROM peers WHERE last_seen >= ?");
    if (!stmt.ok()) return stmt.status();
    DirectoryCounts counts;
    FERRY_RETURN_IF_ERROR(ForEachRow(stmt->Bind(1, online_since), [&](Statement& s) {
      counts = {s.Int(0), s.Int(1), s.Int(2)};
    }));
    std::lock_guard lock(names_mu_);
    if (names_) {
      counts.names_in_memory = static_cast<int64_t>(names_->size());
      counts.name_index_bytes = static_cast<int64_t>(names_->memory_bytes());
    }
    return counts;
  }

  Result<bool> CompactIndexes(std::chrono::milliseconds budget) override {
    // Each write adds a segment to the name index and a search reads every
    // segment. FTS5 merges them by levels as it goes (automerge); merging
    // them into one (a negative amount merges across levels) rewrites the
    // large segment, so it waits until no write has come since the last
    // call: done during a bulk load, it would rewrite the index again and
    // again. A step writes about 400 KB of pages, tens of milliseconds, and
    // the write lock is free between steps. A step that found nothing to do
    // changes only the command's own row.
    const auto deadline = std::chrono::steady_clock::now() + budget;
    {
      std::lock_guard lock(write_mu_);
      if (!NamesIfCurrentLocked()) FERRY_RETURN_IF_ERROR(LoadNamesLocked());
    }
    do {
      std::lock_guard lock(write_mu_);
      if (index_writes_ != index_writes_at_last_compaction_) {
        index_writes_at_last_compaction_ = index_writes_;
        return true;  // still being written: try again later
      }
      const int64_t before = sqlite3_total_changes64(writer_.raw());
      FERRY_RETURN_IF_ERROR(
          writer_.Exec("INSERT INTO files_names(files_names, rank) VALUES('merge', -100)"));
      if (sqlite3_total_changes64(writer_.raw()) - before <= 1) return false;
    } while (std::chrono::steady_clock::now() < deadline);
    return true;
  }

  Status Ping() override {
    auto db = readers_.Acquire();
    return db->Exec("SELECT 1");
  }

 private:
  // Runs one statement with one text parameter (REQUIRES: write_mu_ held).
  template <typename T>
  Status Run(const char* sql, const T& value) {
    auto stmt = writer_.Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    return stmt->Bind(1, value).Run();
  }

  // Run() for a statement that deletes files, counted as a write to the name
  // index if it did (REQUIRES: write_mu_ held).
  template <typename T>
  Status DeleteFiles(const char* sql, const T& value) {
    auto stmt = writer_.Prepare(std::string(sql) + " RETURNING id");
    if (!stmt.ok()) return stmt.status();
    const size_t before = name_changes_.size();
    FERRY_RETURN_IF_ERROR(NoteRemoved(stmt->Bind(1, value)));
    if (name_changes_.size() > before) ++index_writes_;
    return Status::Ok();
  }

  // Runs a DELETE ... RETURNING id and notes the ids for the name index
  // (REQUIRES: write_mu_ held).
  Status NoteRemoved(Statement& stmt) {
    for (;;) {
      auto row = stmt.Step();
      if (!row.ok()) return row.status();
      if (!*row) return Status::Ok();
      name_changes_.push_back(NameChange{stmt.Int(0), std::nullopt});
    }
  }

  // A write transaction; the name changes of one that never committed are
  // dropped (REQUIRES: write_mu_ held).
  Result<Transaction> BeginWrite() {
    name_changes_.clear();
    return Transaction::Begin(writer_);
  }

  // Commits, then applies the transaction's name changes, in order (a row id
  // can go and come back in one transaction). REQUIRES: write_mu_ held.
  Status CommitWrite(Transaction& txn) {
    FERRY_RETURN_IF_ERROR(txn.Commit());
    std::vector<NameChange> changes;
    changes.swap(name_changes_);
    auto names = NamesIfCurrentLocked();
    if (!names) return Status::Ok();
    for (auto& change : changes) {
      if (change.folded_name) {
        names->Put(change.id, *change.folded_name);
      } else {
        names->Forget(change.id);
      }
    }
    return Status::Ok();
  }

  // Sets the name index aside if another process wrote the database since
  // this one last looked: its changes are not in it. The writer connection's
  // data_version changes with every commit but its own.
  // REQUIRES: write_mu_ held.
  std::shared_ptr<NameIndex> NamesIfCurrentLocked() {
    auto version = writer_.Reuse("PRAGMA data_version");
    auto row = version.ok() ? (*version)->Step() : Result<bool>(version.status());
    if (row.ok() && *row) {
      const int64_t now = (*version)->Int(0);
      if (now != data_version_) {
        data_version_ = now;
        book_.Enable();  // starts afresh: the other process may have changed peers too
        std::lock_guard lock(names_mu_);
        if (names_) {
          spdlog::info(
              "directory: another process wrote {}; searches use the database until "
              "the name index is reloaded",
              path_);
        }
        names_.reset();
      }
    }
    std::lock_guard lock(names_mu_);
    return names_;
  }

  // For a search: the name index if it is current, as far as can be told
  // without waiting for a write in progress.
  std::shared_ptr<NameIndex> NamesForSearch() {
    std::unique_lock write(write_mu_, std::try_to_lock);
    if (write.owns_lock()) return NamesIfCurrentLocked();
    std::lock_guard lock(names_mu_);
    return names_;
  }

  // Reads every name into a new index (REQUIRES: write_mu_ held, so no
  // write of this process is missed; about a second per million files).
  Status LoadNamesLocked() {
    NamesIfCurrentLocked();  // takes in the current data_version
    auto names = std::make_shared<NameIndex>();
    auto stmt = writer_.Prepare("SELECT id, name FROM files ORDER BY id");
    if (!stmt.ok()) return stmt.status();
    FERRY_RETURN_IF_ERROR(
        ForEachRow(*stmt, [&](Statement& row) { names->Put(row.Int(0), FoldAscii(row.Text(1))); }));
    std::lock_guard lock(names_mu_);
    names_ = std::move(names);
    return Status::Ok();
  }

  // REQUIRES: write_mu_ held, inside a transaction.
  Status InsertFiles(const std::string& peer_id, const std::vector<SharedFile>& files) {
    if (files.empty()) return Status::Ok();
    ++index_writes_;
    // An added file replaces the entry with the same path; the delete trigger
    // keeps the name index in step, which REPLACE would bypass.
    auto remove = writer_.Prepare("DELETE FROM files WHERE peer_id = ? AND path = ? RETURNING id");
    if (!remove.ok()) return remove.status();
    auto insert = writer_.Prepare(
        "INSERT INTO files(peer_id, path, name, size, sha256, mtime, chunk_root) "
        "VALUES(?,?,?,?,?,?,?)");
    if (!insert.ok()) return insert.status();
    for (const auto& f : files) {
      remove->Reset();
      FERRY_RETURN_IF_ERROR(NoteRemoved(remove->Bind(1, peer_id).Bind(2, f.path)));
      insert->Reset();
      std::string name = FileNameOf(f.path);
      FERRY_RETURN_IF_ERROR(insert->Bind(1, peer_id)
                                .Bind(2, f.path)
                                .Bind(3, name)
                                .Bind(4, f.size)
                                .Bind(5, f.sha256)
                                .Bind(6, f.mtime)
                                .Bind(7, f.chunk_root)
                                .Run());
      name_changes_.push_back(NameChange{writer_.LastInsertRowid(), FoldAscii(std::move(name))});
    }
    return Status::Ok();
  }

  // REQUIRES: write_mu_ held.
  Status RecountFiles(const std::string& peer_id) {
    auto stmt = writer_.Prepare(
        "UPDATE peers SET file_count = (SELECT count(*) FROM files WHERE peer_id = ?1) "
        "WHERE peer_id = ?1");
    if (!stmt.ok()) return stmt.status();
    return stmt->Bind(1, peer_id).Run();
  }

  std::mutex write_mu_;
  Db writer_;  // GUARDED_BY(write_mu_)
  // Writes that changed files (and so the name index), and their number at
  // the last CompactIndexes call; GUARDED_BY(write_mu_).
  int64_t index_writes_ = 0;
  int64_t index_writes_at_last_compaction_ = -1;
  ConnectionPool readers_;
  const std::string path_;  // for messages

  // The in-memory name index that answers ASCII text searches (see Search).
  // Exact for this process's writes, whose changes go in after their commit;
  // set aside (null) when another process writes the file, until maintenance
  // reloads it.
  std::vector<NameChange> name_changes_;  // of the open transaction; GUARDED_BY(write_mu_)
  int64_t data_version_ = -1;             // GUARDED_BY(write_mu_)
  std::mutex names_mu_;
  std::shared_ptr<NameIndex> names_;  // GUARDED_BY(names_mu_)
  // Peers' addresses and sightings for searches that use names_; emptied
  // with it when another process writes.
  PeerBook book_;
};

}  // namespace

Result<std::unique_ptr<DirectoryStore>> OpenSqliteDirectoryStore(const std::string& path,
                                                                 int read_connections) {
  auto writer = Db::Open(path);
  if (!writer.ok()) return writer.status();
  FERRY_RETURN_IF_ERROR(writer->Exec(kSchema));
  FERRY_RETURN_IF_ERROR(AddChunksRootColumn(*writer));
  std::vector<Db> readers;
  for (int i = 0; i < read_connections; ++i) {
    auto reader = Db::Open(path);
    if (!reader.ok()) return reader.status();
    // Searches read all over a large file: map it, and keep more of it cached
    // than SQLite's 2 MB default (each connection: 64 MiB).
    FERRY_RETURN_IF_ERROR(reader->Exec("PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536;"));
    readers.push_back(std::move(*reader));
  }
  auto store = std::make_unique<SqliteDirectoryStore>(std::move(*writer), std::move(readers), path);
  FERRY_RETURN_IF_ERROR(store->LoadNames());
  return std::unique_ptr<DirectoryStore>(std::move(store));
}

}  // namespace ferry
