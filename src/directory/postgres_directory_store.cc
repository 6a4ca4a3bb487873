#include "directory/postgres_directory_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/host_port.h"
#include "directory/file_row_cache.h"
#include "directory/peer_book.h"
#include "directory/postgres_name_feed.h"
#include "directory/store_text.h"

namespace ferry {
namespace {

// Serializes schema creation between instances that start at once: CREATE
// EXTENSION/TABLE IF NOT EXISTS still race on the catalogs otherwise. The
// value is "ferry-di" in ASCII, unlikely to collide with another application.
constexpr int64_t kSchemaLockKey = 0x66657272792d6469;

// text columns that are identifiers or hex compare bytewise (COLLATE "C"), so
// "ordered by peer_id/path" means the same as in the SQLite store whatever the
// database's locale. `name` keeps the database's collation so lower() folds
// case by its locale.
constexpr const char* kSchema = R"sql(
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS accounts (
  username text COLLATE "C" PRIMARY KEY,
  password_hash text NOT NULL,
  created_at bigint NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  session_id text COLLATE "C" PRIMARY KEY,
  username text COLLATE "C" NOT NULL,
  expires_at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
-- Tickets by their SHA-256; databases made before tickets gain the table.
CREATE TABLE IF NOT EXISTS tickets (
  ticket_id text COLLATE "C" PRIMARY KEY,
  username text COLLATE "C" NOT NULL,
  peer_id text COLLATE "C" NOT NULL,
  expires_at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_expires_at ON tickets (expires_at);
CREATE TABLE IF NOT EXISTS peers (
  peer_id text COLLATE "C" PRIMARY KEY,
  username text COLLATE "C" NOT NULL,
  session_id text COLLATE "C" NOT NULL,
  address text NOT NULL,
  cert_sha256 text NOT NULL,
  last_seen bigint NOT NULL,
  file_count bigint NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS peers_last_seen ON peers (last_seen);
CREATE INDEX IF NOT EXISTS peers_session_id ON peers (session_id);
CREATE TABLE IF NOT EXISTS files (
  id bigserial NOT NULL,
  peer_id text COLLATE "C" NOT NULL REFERENCES peers (peer_id) ON DELETE CASCADE,
  path text COLLATE "C" NOT NULL,
  name text NOT NULL,
  size bigint NOT NULL,
  sha256 text COLLATE "C" NOT NULL,
  mtime bigint NOT NULL,
  name_lc text COLLATE "C" GENERATED ALWAYS AS (lower(name)) STORED,
  chunk_root text COLLATE "C" NOT NULL DEFAULT '',
  PRIMARY KEY (peer_id, path));
-- Databases made before files had a chunk_root get it, empty for every file.
ALTER TABLE files ADD COLUMN IF NOT EXISTS chunk_root text COLLATE "C" NOT NULL DEFAULT '';
-- Databases made before files had an id get one (rows numbered in any order),
-- and the folded name.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                 AND table_name = 'files' AND column_name = 'id') THEN
    ALTER TABLE files ADD COLUMN id bigserial NOT NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                 AND table_name = 'files' AND column_name = 'name_lc') THEN
    ALTER TABLE files ADD COLUMN name_lc text COLLATE "C" GENERATED ALWAYS AS (lower(name)) STORED;
  END IF;
END $$;
DROP INDEX IF EXISTS files_name_trgm;
-- Search reads matches in id order (the order files were indexed). With the
-- folded name in the index, a common text is filtered by an index-only scan
-- (a tenth of the bytes of the table's rows) and only the matches are read
-- from the table.
CREATE UNIQUE INDEX IF NOT EXISTS files_id_name ON files (id) INCLUDE (name_lc);
DROP INDEX IF EXISTS files_id;
-- Text search is `name_lc LIKE lower(pattern)`: the same answer as ILIKE
-- (which lower()s both sides too), but bytewise on a stored folded name, about
-- twice as fast per row when a common text is filtered in id order.
-- A finer sample of names lets the planner tell a common text (read in id
-- order, stopping early) from a rare one (trigram index, then sort) more
-- reliably than the default histogram of 100 names would.
ALTER TABLE files ALTER COLUMN name_lc SET STATISTICS 1000;
CREATE INDEX IF NOT EXISTS files_name_lc_trgm ON files USING gin (name_lc gin_trgm_ops);
-- By content, then peer: a hit's peers come in peer order from the index
-- alone (index-only scan), without visiting the table's rows.
CREATE INDEX IF NOT EXISTS files_content_peer ON files (sha256, size, name, peer_id);
DROP INDEX IF EXISTS files_sha256_peer;
)sql";

// Prepared once per connection (pqxx prepares lazily, on first use). Search is
// not prepared: a generic plan cannot see the pattern and would not know
// whether the trigram index pays off.
const std::vector<std::pair<const char*, const char*>> kStatements = {
    {"add_account",
     "INSERT INTO accounts (username, password_hash, created_at) VALUES ($1, $2, $3)"},
    {"password_hash", "SELECT password_hash FROM accounts WHERE username = $1"},
    {"add_session", "INSERT INTO sessions (session_id, username, expires_at) VALUES ($1, $2, $3)"},
    {"find_session",
     "SELECT username, expires_at FROM sessions WHERE session_id = $1 AND expires_at > $2"},
    {"add_ticket",
     "INSERT INTO tickets (ticket_id, username, peer_id, expires_at) VALUES ($1, $2, $3, $4)"},
    {"find_ticket",
     "SELECT username, peer_id, expires_at FROM tickets WHERE ticket_id = $1 AND expires_at > $2"},
    {"remove_session_peers", "DELETE FROM peers WHERE session_id = $1"},
    {"remove_session", "DELETE FROM sessions WHERE session_id = $1"},
    {"add_peer",
     "INSERT INTO peers (peer_id, username, session_id, address, cert_sha256, last_seen) "
     "VALUES ($1, $2, $3, $4, $5, $6)"},
    {"touch_peer",
     "UPDATE peers SET last_seen = GREATEST(last_seen, $2) WHERE peer_id = $1 RETURNING 1"},
    {"set_address", "UPDATE peers SET address = $2 WHERE peer_id = $1"},
    {"set_cert", "UPDATE peers SET cert_sha256 = $2 WHERE peer_id = $1"},
    {"clear_files", "DELETE FROM files WHERE peer_id = $1"},
    {"remove_files", "DELETE FROM files WHERE peer_id = $1 AND path = ANY ($2::text[])"},
    // One statement for any number of files: the columns travel as arrays.
    {"put_files",
     "INSERT INTO files (peer_id, path, name, size, sha256, mtime, chunk_root) "
     "SELECT $1, t.path, t.name, t.size, t.sha256, t.mtime, t.chunk_root "
     "FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[]) "
     "AS t (path, name, size, sha256, mtime, chunk_root) "
     "ON CONFLICT (peer_id, path) DO UPDATE SET id = DEFAULT, name = EXCLUDED.name, "
     "size = EXCLUDED.size, sha256 = EXCLUDED.sha256, mtime = EXCLUDED.mtime, "
     "chunk_root = EXCLUDED.chunk_root "
     "RETURNING id, name_lc"},
    // Delivered to every instance's name feed when the transaction commits.
    {"notify", "SELECT pg_notify($1, $2)"},
    // The search text folded as name_lc is (lower() under the database's collation).
    {"fold", "SELECT lower($1)"},
    // Each hit's first online peers in peer_id order. files_content_peer
    // yields a hit's rows in peer_id order, so DISTINCT ON + LIMIT stop after
    // the first few online peers.
    {"hit_peers",
     "SELECT g.ord, x.peer_id, x.address, x.cert_sha256 "
     "FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS g (name, size, "
     "sha256, ord) "
     "CROSS JOIN LATERAL (SELECT DISTINCT ON (f.peer_id) f.peer_id, p.address, p.cert_sha256 "
     "  FROM files f JOIN peers p ON p.peer_id = f.peer_id "
     "  WHERE f.sha256 = g.sha256 AND f.name = g.name AND f.size = g.size "
     "    AND p.last_seen >= $4 "
     "  ORDER BY f.peer_id LIMIT $5) x "
     "ORDER BY g.ord, x.peer_id"},
    // Each hit's first rows in peer_id order, peers only: the instance's
    // PeerBook tells which are online and where (an index-only scan, without
    // a lookup in peers per row).
    {"hit_peer_ids",
     "SELECT g.ord, x.peer_id "
     "FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS g (name, size, "
     "sha256, ord) "
     "CROSS JOIN LATERAL (SELECT f.peer_id FROM files f "
     "  WHERE f.sha256 = g.sha256 AND f.name = g.name AND f.size = g.size "
     "  ORDER BY f.peer_id LIMIT $4) x "
     "ORDER BY g.ord, x.peer_id"},
    {"peers_by_id",
     "SELECT peer_id, address, cert_sha256, last_seen FROM peers "
     "WHERE peer_id = ANY ($1::text[])"},
    // Rows newer than any the search index holds: committed through another
    // instance a moment ago, their announcement still on its way.
    {"files_after", "SELECT id, name_lc FROM files WHERE id > $1 ORDER BY id LIMIT 10000"},
    {"files_by_id",
     "SELECT id, name, size, sha256, peer_id FROM files WHERE id = ANY ($1::bigint[]) "
     "ORDER BY id"},
    {"count_files",
     "UPDATE peers SET file_count = (SELECT count(*) FROM files WHERE peer_id = $1) "
     "WHERE peer_id = $1"},
    {"find_peer", "SELECT username, session_id, last_seen FROM peers WHERE peer_id = $1"},
    {"remove_peer", "DELETE FROM peers WHERE peer_id = $1"},
    // Rows already as recent are left alone (no write, no dead tuple); the
    // answer is the ids that have no row. Both parts see the snapshot from
    // before the statement, so a peer deleted meanwhile counts as present and
    // is refused on the next flush instead.
    {"heartbeats",
     "WITH v (id, t) AS (SELECT * FROM unnest($1::text[], $2::bigint[])), "
     "u AS (UPDATE peers p SET last_seen = v.t FROM v WHERE p.peer_id = v.id AND p.last_seen < v.t "
     "RETURNING 1) "
     "SELECT v.id FROM v WHERE NOT EXISTS (SELECT 1 FROM peers p WHERE p.peer_id = v.id)"},
    {"online_peers",
     "SELECT peer_id, username, address, cert_sha256, file_count, last_seen FROM peers "
     "WHERE last_seen >= $1 ORDER BY peer_id LIMIT $2 OFFSET $3"},
    // No row: the peer is unknown or offline; one row of NULLs: no files on
    // this page.
    {"peer_files",
     "SELECT f.path, f.size, f.sha256, f.mtime, f.chunk_root FROM peers p LEFT JOIN LATERAL "
     "(SELECT path, size, sha256, mtime, chunk_root FROM files WHERE peer_id = p.peer_id "
     "ORDER BY path "
     "LIMIT $3 OFFSET $4) f ON true WHERE p.peer_id = $1 AND p.last_seen >= $2 ORDER BY f.path"},
    // files_content_peer yields the content's rows in peer order.
    {"sources",
     "SELECT p.peer_id, p.address, p.cert_sha256, max(f.size), max(f.chunk_root) "
     "FROM files f JOIN peers p ON p.peer_id = f.peer_id "
     "WHERE f.sha256 = $1 AND p.last_seen >= $2 GROUP BY p.peer_id ORDER BY p.peer_id LIMIT $3"},
    {"expire_peers", "DELETE FROM peers WHERE last_seen < $1"},
    {"expire_sessions", "DELETE FROM sessions WHERE expires_at <= $1"},
    {"expire_tickets", "DELETE FROM tickets WHERE expires_at <= $1"},
    {"counts",
     "SELECT count(*), coalesce(sum(file_count), 0)::bigint, "
     "(SELECT count(*) FROM accounts) FROM peers WHERE last_seen >= $1"},
};

// Input the database cannot store (a NUL byte in a string); becomes
// INVALID_ARGUMENT. Never leaves this file.
struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The server's message on one line, without libpq's "ERROR:  " prefix.
std::string Tidy(std::string s) {
  if (s.rfind("ERROR:", 0) == 0) s.erase(0, 6);
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// "host:port" for messages, from a URI or a key=value connection string.
std::string DescribeServer(const std::string& url) {
  std::string host, port;
  size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    std::string rest = url.substr(scheme + 3);
    size_t at = rest.rfind('@');  // after user:password, whatever they hold
    if (at != std::string::npos) rest.erase(0, at + 1);
    std::string authority = rest.substr(0, rest.find_first_of("/?"));
    HostPortRules rules;
    rules.allow_empty_host = true;
    rules.default_port = 0;  // 0: none given
    if (auto parsed = ParseHostPort(authority, rules); parsed.ok()) {
      host = parsed->BracketedHost();
      if (parsed->port != 0) port = std::to_string(parsed->port);
    } else {
      host = authority;
    }
  }
  // key=value pairs, in a connection string or a URI's query.
  for (const char* key : {"host=", "port="}) {
    size_t pos = url.find(key);
    if (pos == std::string::npos ||
        (pos > 0 && std::string(" ?&").find(url[pos - 1]) == std::string::npos)) {
      continue;
    }
    size_t start = pos + 5, end = url.find_first_of(" &", start);
    (key[0] == 'h' ? host : port) = url.substr(start, end - start);
  }
  return (host.empty() ? "localhost" : host) + ":" + (port.empty() ? "5432" : port);
}

// The password in a URI's user info or a password= pair, or "".
std::string PasswordIn(const std::string& url) {
  std::string password;
  size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    size_t at = url.rfind('@');
    size_t colon = url.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      password = url.substr(colon + 1, at - colon - 1);
    }
  }
  size_t pos = url.find("password=");
  if (pos != std::string::npos) {
    size_t start = pos + 9, end = url.find_first_of(" &", start);
    password = url.substr(start, end - start);
  }
  return password;
}

// Appends `key=value` to a URI's query or a key=value connection string,
// unless it sets `key` already.
std::string WithParameter(const std::string& url, const std::string& key,
                          const std::string& value) {
  if (url.find(key + "=") != std::string::npos) return url;
  if (url.find("://") == std::string::npos) return url + " " + key + "=" + value;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
}

// connect_timeout, so an unreachable server fails an open within seconds
// rather than the kernel's TCP timeout.
std::string WithConnectTimeout(const std::string& url) {
  return WithParameter(url, "connect_timeout", "10");
}

// The name index's listening connection is idle for as long as nobody writes:
// TCP keepalives find within a minute or so a connection that a network or a
// server crash dropped without a word, where the kernel's default would take
// two hours, and meanwhile announcements would be lost unnoticed.
std::string WithKeepalives(const std::string& url) {
  return WithParameter(
      WithParameter(WithParameter(url, "keepalives_idle", "30"), "keepalives_interval", "10"),
      "keepalives_count", "3");
}

// A PostgreSQL array literal of text: {"a","b\"c"}.
template <typename T, typename F>
std::string TextArray(const std::vector<T>& items, F field) {
  std::string out = "{";
  for (const T& item : items) {
    const std::string& s = field(item);
    if (s.find('\0') != std::string::npos) throw BadInput("a string contains a NUL byte");
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

template <typename T, typename F>
std::string BigintArray(const std::vector<T>& items, F field) {
  std::string out = "{";
  for (const T& item : items) {
    if (out.size() > 1) out += ',';
    out += std::to_string(field(item));
  }
  return out + "}";
}

// Later entries for a path replace earlier ones, as a sequence of announces
// would; ON CONFLICT DO UPDATE refuses to touch one row twice in a statement.
std::vector<SharedFile> DedupeByPath(const std::vector<SharedFile>& files) {
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < files.size(); ++i) last[files[i].path] = i;
  if (last.size() == files.size()) return files;
  std::vector<SharedFile> out;
  for (size_t i = 0; i < files.size(); ++i) {
    if (last[files[i].path] == i) out.push_back(files[i]);
  }
  return out;
}

// Rows a transaction added: (id, folded name), for the search index once it
// has committed.
using AddedNames = std::vector<std::pair<int64_t, std::string>>;

// Inserts or replaces `files`, announces the new rows to every instance's
// search index (delivered on commit) and appends them to `added`.
void PutFiles(pqxx::transaction_base& tx, const std::string& peer_id,
              const std::vector<SharedFile>& files, AddedNames& added) {
  auto deduped = DedupeByPath(files);
  // Bounded statements keep a huge announce from building one giant message.
  constexpr size_t kBatch = 5000;
  for (size_t begin = 0; begin < deduped.size(); begin += kBatch) {
    std::vector<SharedFile> batch(
        deduped.begin() + static_cast<std::ptrdiff_t>(begin),
        deduped.begin() + static_cast<std::ptrdiff_t>(std::min(deduped.size(), begin + kBatch)));
    std::vector<std::string> names;
    for (const auto& f : batch) names.push_back(FileNameOf(f.path));
    auto rows = tx.exec_prepared(
        "put_files", peer_id,
        TextArray(batch, [](const SharedFile& f) -> const std::string& { return f.path; }),
        TextArray(names, [](const std::string& s) -> const std::string& { return s; }),
        BigintArray(batch, [](const SharedFile& f) { return f.size; }),
        TextArray(batch, [](const SharedFile& f) -> const std::string& { return f.sha256; }),
        BigintArray(batch, [](const SharedFile& f) { return f.mtime; }),
        TextArray(batch, [](const SharedFile& f) -> const std::string& { return f.chunk_root; }));
    if (rows.empty()) continue;
    int64_t min_id = std::numeric_limits<int64_t>::max(), max_id = 0;
    for (const auto& row : rows) {
      auto id = row[0].as<int64_t>();
      min_id = std::min(min_id, id);
      max_id = std::max(max_id, id);
      added.emplace_back(id, row[1].as<std::string>());
    }
    tx.exec_prepared("notify", kFilesChannel, FilesAnnouncement(min_id, max_id));
  }
}

// A fixed number of connections, opened on first need and handed out one
// caller at a time (a pqxx::connection is not thread-safe).
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (pool_ != nullptr && conn_ != nullptr) pool_->Release(std::move(conn_));
    }
    pqxx::connection& operator*() const { return *conn_; }
    // Closes the connection instead of returning it (it broke).
    void Discard() { conn_->disconnect(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  ConnectionPool(std::string conninfo, std::string server, int size)
      : conninfo_(std::move(conninfo)),
        server_(std::move(server)),
        password_(PasswordIn(conninfo_)),
        size_(std::max(1, size)) {}

  Result<Lease> Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();  // connecting takes a round trip or a timeout; others go on
    try {
      auto conn = std::make_unique<pqxx::connection>(conninfo_);
      for (const auto& [name, sql] : kStatements) conn->prepare(name, sql);
      return Lease(this, std::move(conn));
    } catch (const std::exception& e) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return Unreachable(e.what());
    }
  }

  // After one connection broke the others probably did too (the server
  // restarted): drop the idle ones so the next callers reconnect.
  void DropIdle() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ -= static_cast<int>(idle_.size());
    idle_.clear();
    cv_.notify_all();
  }

  Status Unreachable(const std::string& reason) const {
    return Status::Unavailable("cannot reach the directory database at " + server_ + ": " +
                               Clean(reason));
  }

  // A message fit to show: one line, and never the password even if a
  // library or the server echoed it.
  std::string Clean(const std::string& message) const {
    std::string s = Tidy(message);
    if (password_.empty()) return s;
    for (size_t pos = s.find(password_); pos != std::string::npos;
         pos = s.find(password_, pos + 3)) {
      s.replace(pos, password_.size(), "***");
    }
    return s;
  }

 private:
  void Release(std::unique_ptr<pqxx::connection> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (conn->is_open()) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

  const std::string conninfo_;  // may hold a password: never put it in a message
  const std::string server_;    // "host:port", for messages
  const std::string password_;  // scrubbed from messages
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by mu_
  int open_ = 0;  // connections idle or leased; guarded by mu_
};

class PostgresDirectoryStore final : public DirectoryStore {
 public:
  PostgresDirectoryStore(const std::string& conninfo, std::string server, int connections)
      : pool_(conninfo, std::move(server), connections),
        names_(
            WithKeepalives(conninfo), [this](const std::string& m) { return pool_.Clean(m); },
            &book_) {}

  Status CreateSchema() {
    return Run([this](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLockKey);
      tx.exec0(kSchema);
      // Whether lower() folds ASCII as tolower() does (not so under a Turkish
      // collation, where 'I' becomes a dotless i): then ASCII search texts are
      // folded here, without a round trip.
      ascii_folds_plainly_ =
          tx.exec1("SELECT lower('ABCDEFGHIJKLMNOPQRSTUVWXYZ') = 'abcdefghijklmnopqrstuvwxyz'")[0]
              .as<bool>();
      tx.commit();
      return Status::Ok();
    });
  }

  Status AddAccount(const std::string& username, const std::string& password_hash,
                    int64_t now) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      try {
        tx.exec_prepared0("add_account", username, password_hash, now);
      } catch (const pqxx::unique_violation&) {
        return Status::AlreadyExists("the user name '" + username + "' is taken");
      }
      tx.commit();
      return Status::Ok();
    });
  }

  Result<std::optional<std::string>> PasswordHash(const std::string& username) override {
    return Run([&](pqxx::connection& c) -> Result<std::optional<std::string>> {
      pqxx::nontransaction tx(c);
      auto r = tx.exec_prepared("password_hash", username);
      if (r.empty()) return std::optional<std::string>();
      return std::optional<std::string>(r[0][0].as<std::string>());
    });
  }

  Status AddSession(const std::string& session_id, const std::string& username,
                    int64_t expires_at) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      try {
        tx.exec_prepared0("add_session", session_id, username, expires_at);
      } catch (const pqxx::unique_violation&) {
        return Status::AlreadyExists("the session exists already");
      }
      tx.commit();
      return Status::Ok();
    });
  }

  Result<std::optional<DirectorySession>> FindSession(const std::string& session_id,
                                                      int64_t now) override {
    return Run([&](pqxx::connection& c) -> Result<std::optional<DirectorySession>> {
      pqxx::nontransaction tx(c);
      auto r = tx.exec_prepared("find_session", session_id, now);
      if (r.empty()) return std::optional<DirectorySession>();
      return std::optional<DirectorySession>(
          DirectorySession{r[0][0].as<std::string>(), r[0][1].as<int64_t>()});
    });
  }

  Status RemoveSession(const std::string& session_id) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_prepared0("remove_session_peers", session_id);
      tx.exec_prepared0("remove_session", session_id);
      tx.commit();
      return Status::Ok();
    });
  }

  Status AddTicket(const std::string& ticket_id, const DirectoryTicket& ticket) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      try {
        tx.exec_prepared0("add_ticket", ticket_id, ticket.username, ticket.peer_id,
                          ticket.expires_at);
      } catch (const pqxx::unique_violation&) {
        return Status::AlreadyExists("the ticket exists already");
      }
      tx.commit();
      return Status::Ok();
    });
  }

  Result<std::optional<DirectoryTicket>> FindTicket(const std::string& ticket_id,
                                                    int64_t now) override {
    return Run([&](pqxx::connection& c) -> Result<std::optional<DirectoryTicket>> {
      pqxx::nontransaction tx(c);
      auto r = tx.exec_prepared("find_ticket", ticket_id, now);
      if (r.empty()) return std::optional<DirectoryTicket>();
      return std::optional<DirectoryTicket>(DirectoryTicket{
          r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<int64_t>()});
    });
  }

  Status AddPeer(const NewPeer& peer, int64_t now) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      try {
        tx.exec_prepared0("add_peer", peer.peer_id, peer.username, peer.session_id, peer.address,
                          peer.cert_sha256, now);
      } catch (const pqxx::unique_violation&) {
        return Status::AlreadyExists("the peer id '" + peer.peer_id + "' is taken");
      }
      AddedNames added;
      PutFiles(tx, peer.peer_id, peer.files, added);
      tx.exec_prepared0("count_files", peer.peer_id);
      // A peer id may have been used before (and be in instances' books with
      // another address).
      tx.exec_prepared("notify", kPeersChannel, peer.peer_id);
      tx.commit();
      book_.Forget(peer.peer_id);
      IndexNames(added);
      return Status::Ok();
    });
  }

  Status UpdatePeer(const PeerUpdate& update, int64_t now) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      // Locks the peer's row first, so concurrent updates of one peer queue up.
      if (tx.exec_prepared("touch_peer", update.peer_id, now).empty()) {
        return Status::NotFound("no peer '" + update.peer_id + "'; announce it again");
      }
      if (update.address) tx.exec_prepared0("set_address", update.peer_id, *update.address);
      if (update.cert_sha256) tx.exec_prepared0("set_cert", update.peer_id, *update.cert_sha256);
      const bool reachable_elsewhere = update.address || update.cert_sha256;
      if (reachable_elsewhere) tx.exec_prepared("notify", kPeersChannel, update.peer_id);
      bool files_changed = false;
      AddedNames added;
      if (update.replace_files) {
        tx.exec_prepared0("clear_files", update.peer_id);
        PutFiles(tx, update.peer_id, *update.replace_files, added);
        files_changed = true;
      }
      if (!update.removed.empty()) {
        tx.exec_prepared0("remove_files", update.peer_id,
                          TextArray(update.removed,
                                    [](const std::string& s) -> const std::string& { return s; }));
        files_changed = true;
      }
      if (!update.added.empty()) {
        PutFiles(tx, update.peer_id, update.added, added);
        files_changed = true;
      }
      if (files_changed) tx.exec_prepared0("count_files", update.peer_id);
      tx.commit();
      if (reachable_elsewhere) book_.Forget(update.peer_id);
      IndexNames(added);
      return Status::Ok();
    });
  }

  Result<std::optional<PeerOwner>> FindPeer(const std::string& peer_id) override {
    return Run([&](pqxx::connection& c) -> Result<std::optional<PeerOwner>> {
      pqxx::nontransaction tx(c);
      auto r = tx.exec_prepared("find_peer", peer_id);
      if (r.empty()) return std::optional<PeerOwner>();
      return std::optional<PeerOwner>(
          PeerOwner{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<int64_t>()});
    });
  }

  Status RemovePeer(const std::string& peer_id) override {
    return Run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec_prepared0("remove_peer", peer_id);
      tx.commit();
      return Status::Ok();
    });
  }

  Result<std::vector<std::string>> RecordHeartbeats(
      const std::vector<std::pair<std::string, int64_t>>& seen) override {
    if (seen.empty()) return std::vector<std::string>();
    // One entry per peer with its latest time (UPDATE ... FROM would apply an
    // arbitrary one of duplicates), in peer_id order so that concurrent
    // batches lock rows in the same order and cannot deadlock.
    std::map<std::string, int64_t> latest;
    for (const auto& [id, t] : seen) {
      auto [it, inserted] = latest.emplace(id, t);
      if (!inserted) it->second = std::max(it->second, t);
    }
    std::vector<std::pair<std::string, int64_t>> rows(latest.begin(), latest.end());
    // One statement, committed on its own: no BEGIN/COMMIT round trips, and
    // running it again after a broken connection is harmless.
    return Run([&](pqxx::connection& c) -> Result<std::vector<std::string>> {
      pqxx::nontransaction tx(c);
      std::vector<std::string> missing;
      for (const auto& row : tx.exec_prepared(
               "heartbeats",
               TextArray(rows, [](const auto& r) -> const std::string& { return r.first; }),
               BigintArray(rows, [](const auto& r) { return r.second; }))) {
        missing.push_back(row[0].as<std::string>());
      }
      std::sort(missing.begin(), missing.end());
      for (const auto& [id, t] : rows) {
        if (!std::binary_search(missing.begin(), missing.end(), id)) book_.Touch(id, t);
      }
      return missing;
    });
  }

  Result<std::vector<PeerRow>> OnlinePeers(int64_t online_since, int limit, int offset) override {
    return Run([&](pqxx::connection& c) -> Result<std::vector<PeerRow>> {
      pqxx::nontransaction tx(c);
      std::vector<PeerRow> peers;
      for (const auto& row : tx.exec_prepared("online_peers", online_since, std::max(0, limit),
                                              std::max(0, offset))) {
        peers.push_back(PeerRow{row[0].as<std::string>(), row[1].as<std::string>(),
                                row[2].as<std::string>(), row[3].as<std::string>(),
                                row[4].as<int64_t>(), row[5].as<int64_t>()});
      }
      return peers;
    });
  }

  Result<std::optional<std::vector<SharedFile>>> PeerFiles(const std::string& peer_id,
                                                           int64_t online_since, int limit,
                                                           int offset) override {
    using Answer = std::optional<std::vector<SharedFile>>;
    return Run([&](pqxx::connection& c) -> Result<Answer> {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_prepared("peer_files", peer_id, online_since, std::max(0, limit),
                                   std::max(0, offset));
      if (rows.empty()) return Answer();
      std::vector<SharedFile> files;
      for (const auto& row : rows) {
        if (row[0].is_null()) continue;
        files.push_back(SharedFile{row[0].as<std::string>(), row[1].as<int64_t>(),
                                   row[2].as<std::string>(), row[3].as<int64_t>(),
                                   row[4].as<std::string>()});
      }
      return Answer(std::move(files));
    });
  }

  Result<std::vector<dirapi::ContentSource>> Sources(const std::string& sha256,
                                                     int64_t online_since, int limit) override {
    return Run([&](pqxx::connection& c) -> Result<std::vector<dirapi::ContentSource>> {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_prepared("sources", sha256, online_since, std::max(0, limit));
      std::vector<dirapi::ContentSource> sources;
      for (const auto& row : rows) {
        sources.push_back(
            {{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()},
             row[3].as<int64_t>(),
             row[4].as<std::string>()});
      }
      return sources;
    });
  }

  Result<std::vector<SearchHit>> Search(const SearchQuery& query, int64_t online_since) override;

  Result<int64_t> RemoveExpired(int64_t online_since, int64_t now) override {
    return Run([&](pqxx::connection& c) -> Result<int64_t> {
      pqxx::work tx(c);
      auto peers = tx.exec_prepared("expire_peers", online_since);
      tx.exec_prepared0("expire_sessions", now);
      tx.exec_prepared0("expire_tickets", now);
      tx.commit();
      book_.Prune(online_since);
      return static_cast<int64_t>(peers.affected_rows());
    });
  }

  Result<DirectoryCounts> Counts(int64_t online_since) override {
    return Run([&](pqxx::connection& c) -> Result<DirectoryCounts> {
      pqxx::nontransaction tx(c);
      auto row = tx.exec_prepared1("counts", online_since);
      DirectoryCounts counts{row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<int64_t>()};
      if (auto index = names_.index()) {
        counts.names_in_memory = static_cast<int64_t>(index->size());
        counts.name_index_bytes = static_cast<int64_t>(index->memory_bytes());
      }
      return counts;
    });
  }

  // PostgreSQL keeps its own indexes tidy (autovacuum); the upkeep here is
  // loading the in-memory name index and following other instances' writes.
  Result<bool> CompactIndexes(std::chrono::milliseconds budget) override {
    return names_.Sync(budget);
  }

  Status Ping() override {
    return Run([](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      tx.exec1("SELECT 1");
      return Status::Ok();
    });
  }

 private:
  // Runs `body` on a pooled connection and turns exceptions into a Status.
  // Retries a deadlock or serialization failure (the transaction was rolled
  // back, so running it again is safe) and, once, a connection that turned out
  // to be broken before the transaction committed.
  template <typename F>
  auto Run(F&& body) -> decltype(body(std::declval<pqxx::connection&>())) {
    for (int attempt = 0;; ++attempt) {
      auto lease = pool_.Acquire();
      if (!lease.ok()) return lease.status();
      try {
        return body(**lease);
      } catch (const pqxx::broken_connection& e) {
        lease->Discard();
        pool_.DropIdle();
        if (attempt < 1) continue;
        return pool_.Unreachable(e.what());
      } catch (const pqxx::in_doubt_error& e) {
        lease->Discard();
        return pool_.Unreachable(std::string("the outcome of a commit is unknown: ") + e.what());
      } catch (const pqxx::statement_completion_unknown& e) {
        // Rolled back or not, nobody knows: running it again could apply it twice.
        return Status::Aborted("directory database: " + pool_.Clean(e.what()));
      } catch (const pqxx::transaction_rollback& e) {
        if (attempt < 4) continue;
        return Status::Aborted("directory database: " + pool_.Clean(e.what()));
      } catch (const pqxx::unique_violation& e) {
        return Status::AlreadyExists("directory database: " + pool_.Clean(e.what()));
      } catch (const pqxx::data_exception& e) {
        return Status::InvalidArgument("directory database: " + pool_.Clean(e.what()));
      } catch (const pqxx::sql_error& e) {
        // Class 08 is a connection exception, 57P a server shutting down.
        const std::string& state = e.sqlstate();
        if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0 || !(**lease).is_open()) {
          lease->Discard();
          pool_.DropIdle();
          return pool_.Unreachable(e.what());
        }
        return Status::Internal("directory database: " + pool_.Clean(e.what()));
      } catch (const BadInput& e) {
        return Status::InvalidArgument(e.what());
      } catch (const std::exception& e) {
        return Status::Internal(std::string("directory database: ") + pool_.Clean(e.what()));
      }
    }
  }

  // This instance's own new rows go into the index at once (other
  // instances' arrive through the feed).
  void IndexNames(const AddedNames& added) {
    auto index = names_.index();
    if (!index) return;
    for (const auto& [id, name] : added) index->Put(id, name);
  }

  Result<std::vector<SearchHit>> SearchIndexed(NameIndex& index, const SearchQuery& query,
                                               int64_t online_since);

  // Reads peers the book could not tell about from the database (and keeps
  // them there): the ones that still exist, online or not.
  PeerMap ReadPeers(pqxx::transaction_base& tx, std::vector<std::string> ids);
  // Leaves hits without an online peer in place (see ForgetRowsOfPeerlessHits).
  void AttachBookedPeers(pqxx::transaction_base& tx, std::vector<SearchHit>& hits,
                         int64_t online_since, int max_peers);
  void ForgetRowsOfPeerlessHits(const std::vector<SearchHit>& hits,
                                const std::vector<std::pair<int64_t, SharedFileRow>>& remembered);

  ConnectionPool pool_;
  PeerBook book_;  // filled by indexed searches; on while names_ listens
  // Rows read by indexed searches: 128 Ki rows (about 45 MB) for 30 s.
  FileRowCache rows_{128 << 10, std::chrono::seconds(30)};
  PostgresNameFeed names_;            // declared after book_, which it refers to
  bool ascii_folds_plainly_ = false;  // set once, by CreateSchema
};

// Collects a page of hits from matching rows that arrive in id order, a batch
// at a time: rows of offline peers are skipped and the rest deduplicated by
// (name, size, sha256) in order of first appearance, stopping as soon as
// offset + limit hits are known. `next_batch(last_id, n)` gives up to n rows
// after last_id; fewer means there are no more.
struct MatchRow {
  int64_t id;
  SearchHit hit;
  bool online;
};
template <typename NextBatch>
std::vector<SearchHit> CollectHits(const SearchQuery& query, NextBatch next_batch) {
  const size_t offset = static_cast<size_t>(std::max(0, query.offset));
  const size_t wanted = offset + static_cast<size_t>(query.limit);
  std::vector<SearchHit> hits;
  std::set<std::tuple<std::string, int64_t, std::string>> seen;
  int64_t last_id = 0;
  // A little more than the hits still missing, as some rows repeat a hit;
  // each further batch is four times larger, and the sixth reads the rest,
  // so a text whose matches are mostly copies of a few files still takes
  // only a handful of statements.
  int64_t batch = static_cast<int64_t>(wanted + wanted / 2 + 16);
  for (int round = 0; hits.size() < wanted; ++round) {
    const int64_t cap = round >= 5 ? std::numeric_limits<int64_t>::max() : batch;
    auto [rows, complete] = next_batch(last_id, cap);
    for (auto& row : rows) {
      last_id = row.id;
      if (!row.online) continue;
      if (!seen.emplace(row.hit.name, row.hit.size, row.hit.sha256).second) continue;
      hits.push_back(std::move(row.hit));
      if (hits.size() == wanted) break;
    }
    if (complete) break;
    batch *= 4;
  }
  if (hits.size() <= offset) return {};
  hits.erase(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(offset));
  return hits;
}

MatchRow ToMatchRow(const pqxx::row& row) {
  return MatchRow{
      row[0].as<int64_t>(),
      SearchHit{row[1].as<std::string>(), row[2].as<int64_t>(), row[3].as<std::string>(), {}},
      row[4].as<bool>()};
}

// A peer that is online, from the book or else from what this search read.
const BookedPeer* OnlinePeer(const PeerBook::Reader& book, const PeerMap& read,
                             std::string_view peer_id, int64_t online_since) {
  if (const BookedPeer* known = book.Find(peer_id, online_since)) return known;
  auto it = read.find(peer_id);
  return it != read.end() && it->second.last_seen >= online_since ? &it->second : nullptr;
}

std::string_view View(const pqxx::field& f) { return std::string_view(f.c_str(), f.size()); }

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Each hit's first online peers in peer_id order, in one statement.
void ReadHitPeers(pqxx::transaction_base& tx, std::vector<SearchHit>& hits, int64_t online_since,
                  int max_peers) {
  auto peers = tx.exec_prepared(
      "hit_peers", TextArray(hits, [](const SearchHit& h) -> const std::string& { return h.name; }),
      BigintArray(hits, [](const SearchHit& h) { return h.size; }),
      TextArray(hits, [](const SearchHit& h) -> const std::string& { return h.sha256; }),
      online_since, max_peers);
  for (const auto& row : peers) {
    auto ord = row[0].as<size_t>();  // 1-based
    if (ord < 1 || ord > hits.size()) continue;
    hits[ord - 1].peers.push_back(
        PeerAddress{row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>()});
  }
}

// A hit whose peers all left since its row was read is dropped.
void DropHitsWithoutPeers(std::vector<SearchHit>& hits) {
  hits.erase(
      std::remove_if(hits.begin(), hits.end(), [](const SearchHit& h) { return h.peers.empty(); }),
      hits.end());
}

void AttachPeers(pqxx::transaction_base& tx, std::vector<SearchHit>& hits, int64_t online_since,
                 int max_peers) {
  ReadHitPeers(tx, hits, online_since, max_peers);
  DropHitsWithoutPeers(hits);
}

// Two steps: the page's hits (CollectHits), then their peers (AttachPeers).
// Each statement runs on its own (no transaction round trips).
//
// A text's matching ids come from the in-memory name index once it is loaded
// (see postgres_name_feed.h), and the rows are then read by id. Before that,
// or for a sha256, the database finds them itself: in id order, so that a
// text that matches thousands of files reads a few dozen of them (the planner
// walks files_id_name, names and all, and filters; for a rare text it takes
// the trigram or sha256 index and sorts the few matches).
Result<std::vector<SearchHit>> PostgresDirectoryStore::Search(const SearchQuery& query,
                                                              int64_t online_since) {
  const bool by_hash = query.text.empty();
  const std::string needle = by_hash ? query.sha256 : LikeContains(query.text);
  if (needle.find('\0') != std::string::npos) {
    return Status::InvalidArgument("the search text contains a NUL byte");
  }
  if (query.limit <= 0) return std::vector<SearchHit>();
  if (!by_hash) {
    if (auto index = names_.index()) {
      names_.CatchUp();
      return SearchIndexed(*index, query, online_since);
    }
  }
  // A file on thousands of peers is still only a few thousand rows of the
  // sha256 index, sorted in a few ms; walking the id index instead (which the
  // planner picks when the sha256 is among the most common values) can read
  // half the table. "+ 0" hides the order of that index from it.
  // The matches' ids first, then their rows and whether their peer is online:
  // a peer's rows are removed within seconds of it going offline, so rows of
  // offline peers are few, and are skipped.
  const std::string sql =
      std::string(
          "SELECT m.id, f.name, f.size, f.sha256, p.last_seen >= $2 FROM (SELECT id FROM "
          "files WHERE ") +
      (by_hash ? "sha256 = $1" : "name_lc LIKE lower($1)") + " AND id > $3 ORDER BY " +
      (by_hash ? "id + 0" : "id") +
      " LIMIT $4) m JOIN files f ON f.id = m.id JOIN peers p ON p.peer_id = f.peer_id "
      "ORDER BY m.id";
  return Run([&](pqxx::connection& c) -> Result<std::vector<SearchHit>> {
    pqxx::nontransaction tx(c);
    auto hits = CollectHits(query, [&](int64_t last_id, int64_t n) {
      auto rows = tx.exec_params(sql, needle, online_since, last_id, n);
      std::vector<MatchRow> out;
      for (const auto& row : rows) out.push_back(ToMatchRow(row));
      return std::pair(std::move(out), static_cast<int64_t>(rows.size()) < n);
    });
    if (!hits.empty() && query.max_peers_per_hit > 0) {
      AttachPeers(tx, hits, online_since, query.max_peers_per_hit);
    }
    return hits;
  });
}

PeerMap PostgresDirectoryStore::ReadPeers(pqxx::transaction_base& tx,
                                          std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  const uint64_t generation = book_.generation();  // before the read: see PeerBook::Fill
  PeerMap read;
  for (const auto& row : tx.exec_prepared(
           "peers_by_id",
           TextArray(ids, [](const std::string& s) -> const std::string& { return s; }))) {
    read.emplace(
        row[0].as<std::string>(),
        BookedPeer{row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<int64_t>()});
  }
  book_.Fill(read, generation);
  return read;
}

// As AttachPeers, with the peers' addresses and whether they are online from
// the book. Each hit's rows are read up to a cap a little above `max_peers`
// (a peer may share a file under two paths, and offline peers' rows linger
// until expiry removes them); a hit that reaches the cap without enough online
// peers has its peers read the other way. Hits left without an online peer
// stay, for the caller to drop.
void PostgresDirectoryStore::AttachBookedPeers(pqxx::transaction_base& tx,
                                               std::vector<SearchHit>& hits, int64_t online_since,
                                               int max_peers) {
  const int64_t cap = max_peers + max_peers / 8 + 2;
  const auto rows = tx.exec_prepared(
      "hit_peer_ids",
      TextArray(hits, [](const SearchHit& h) -> const std::string& { return h.name; }),
      BigintArray(hits, [](const SearchHit& h) { return h.size; }),
      TextArray(hits, [](const SearchHit& h) -> const std::string& { return h.sha256; }), cap);
  // Ids point into `rows`.
  std::vector<std::vector<std::string_view>> ids_per_hit(hits.size());
  for (const auto& row : rows) {
    auto ord = row[0].as<size_t>();  // 1-based
    if (ord >= 1 && ord <= hits.size()) ids_per_hit[ord - 1].push_back(View(row[1]));
  }
  const auto wanted = static_cast<size_t>(max_peers);
  // Fills a hit's peers from its rows (in peer_id order, so a peer's second
  // path comes next to its first); false if `find` could not tell about one.
  auto fill = [&](size_t i, auto find, std::vector<std::string>* unknown) {
    auto& peers = hits[i].peers;
    std::string_view previous;
    bool told = true;
    for (std::string_view id : ids_per_hit[i]) {
      if (peers.size() == wanted) break;
      if (id == previous) continue;
      previous = id;
      if (const BookedPeer* peer = find(id)) {
        peers.push_back(PeerAddress{std::string(id), peer->address, peer->cert_sha256});
      } else if (unknown != nullptr) {
        unknown->emplace_back(id);
        told = false;
      }
    }
    return told;
  };
  // Usually the book knows every peer: one pass. Hits with a peer it does not
  // know (or that looks offline to it) are done again once those are read.
  std::vector<size_t> again;
  std::vector<std::string> unknown;
  {
    const auto book = book_.Read();
    for (size_t i = 0; i < hits.size(); ++i) {
      if (!fill(
              i, [&](std::string_view id) { return book.Find(id, online_since); }, &unknown)) {
        again.push_back(i);
      }
    }
  }
  if (!again.empty()) {
    const PeerMap read = ReadPeers(tx, std::move(unknown));
    const auto book = book_.Read();
    for (size_t i : again) {
      hits[i].peers.clear();
      fill(
          i, [&](std::string_view id) { return OnlinePeer(book, read, id, online_since); },
          nullptr);
    }
  }
  std::vector<SearchHit> short_hits;
  std::vector<size_t> short_index;
  for (size_t i = 0; i < hits.size(); ++i) {
    if (hits[i].peers.size() < wanted && ids_per_hit[i].size() == static_cast<size_t>(cap)) {
      short_hits.push_back(SearchHit{hits[i].name, hits[i].size, hits[i].sha256, {}});
      short_index.push_back(i);
    }
  }
  if (!short_hits.empty()) {
    ReadHitPeers(tx, short_hits, online_since, max_peers);
    for (size_t k = 0; k < short_hits.size(); ++k) {
      hits[short_index[k]].peers = std::move(short_hits[k].peers);
    }
  }
}

// A remembered row whose hit has no peer left may have been deleted: read it
// from the table next time (which also tells the name index).
void PostgresDirectoryStore::ForgetRowsOfPeerlessHits(
    const std::vector<SearchHit>& hits,
    const std::vector<std::pair<int64_t, SharedFileRow>>& remembered) {
  std::vector<int64_t> forget;
  for (const auto& hit : hits) {
    if (!hit.peers.empty()) continue;
    for (const auto& [id, row] : remembered) {
      if (row->size == hit.size && row->sha256 == hit.sha256 && row->name == hit.name) {
        forget.push_back(id);
      }
    }
  }
  if (!forget.empty()) rows_.Forget(forget);
}

Result<std::vector<SearchHit>> PostgresDirectoryStore::SearchIndexed(NameIndex& index,
                                                                     const SearchQuery& query,
                                                                     int64_t online_since) {
  return Run([&](pqxx::connection& c) -> Result<std::vector<SearchHit>> {
    pqxx::nontransaction tx(c);
    const std::string folded = IsAscii(query.text) && ascii_folds_plainly_
                                   ? FoldAscii(query.text)
                                   : tx.exec_prepared1("fold", query.text)[0].as<std::string>();
    // A file announced through another instance just before this search must
    // be found, as the database would find it: NOTIFY reaches this instance a
    // little after the commit, so the newest rows are read here (usually
    // none). An older id committed late still comes by NOTIFY.
    for (const auto& row : tx.exec_prepared("files_after", index.max_id())) {
      index.Put(row[0].as<int64_t>(), row[1].as<std::string>());
    }
    // Rows this search took from memory rather than the table.
    std::vector<std::pair<int64_t, SharedFileRow>> remembered;
    auto hits = CollectHits(query, [&](int64_t last_id, int64_t n) {
      auto ids = index.Find(folded, last_id, static_cast<size_t>(n));
      std::vector<MatchRow> out;
      if (!ids.empty()) {
        const int64_t now = SteadyMs();
        std::vector<SharedFileRow> rows = rows_.Find(ids, now);
        std::vector<int64_t> missing;
        for (size_t i = 0; i < ids.size(); ++i) {
          if (rows[i]) {
            remembered.emplace_back(ids[i], rows[i]);
          } else {
            missing.push_back(ids[i]);
          }
        }
        if (!missing.empty()) {
          // Both in id order; ids the table no longer has stay null.
          std::vector<std::pair<int64_t, SharedFileRow>> read;
          for (const auto& row : tx.exec_prepared(
                   "files_by_id", BigintArray(missing, [](int64_t id) { return id; }))) {
            read.emplace_back(row[0].as<int64_t>(),
                              std::make_shared<const FileRow>(
                                  FileRow{row[1].as<std::string>(), row[2].as<int64_t>(),
                                          row[3].as<std::string>(), row[4].as<std::string>()}));
          }
          size_t r = 0;
          for (size_t i = 0; i < ids.size() && r < read.size(); ++i) {
            if (ids[i] == read[r].first) rows[i] = read[r++].second;
          }
          rows_.Put(read, now);
        }
        std::vector<std::string> unknown;
        {
          const auto book = book_.Read();
          for (const auto& row : rows) {
            if (row && !book.Find(row->peer_id, online_since)) unknown.push_back(row->peer_id);
          }
        }
        const PeerMap read = unknown.empty() ? PeerMap() : ReadPeers(tx, std::move(unknown));
        const auto book = book_.Read();
        for (size_t i = 0; i < ids.size(); ++i) {
          if (!rows[i]) {
            // Deleted (perhaps through another instance): the index forgets it.
            index.Forget(ids[i]);
            continue;
          }
          const FileRow& row = *rows[i];
          out.push_back(MatchRow{ids[i], SearchHit{row.name, row.size, row.sha256, {}},
                                 OnlinePeer(book, read, row.peer_id, online_since) != nullptr});
        }
      }
      // The batch continues after the last id the index gave, found or not.
      if (!ids.empty() && (out.empty() || out.back().id != ids.back())) {
        out.push_back(MatchRow{ids.back(), {}, false});
      }
      return std::pair(std::move(out), static_cast<int64_t>(ids.size()) < n);
    });
    if (!hits.empty() && query.max_peers_per_hit > 0) {
      AttachBookedPeers(tx, hits, online_since, query.max_peers_per_hit);
      ForgetRowsOfPeerlessHits(hits, remembered);
      DropHitsWithoutPeers(hits);
    }
    return hits;
  });
}

}  // namespace

Result<std::unique_ptr<DirectoryStore>> OpenPostgresDirectoryStore(const std::string& url,
                                                                   int connections) {
  auto store = std::make_unique<PostgresDirectoryStore>(WithConnectTimeout(url),
                                                        DescribeServer(url), connections);
  FERRY_RETURN_IF_ERROR(store->CreateSchema());
  return std::unique_ptr<DirectoryStore>(std::move(store));
}

}  // namespace ferry
