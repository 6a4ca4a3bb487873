#include "peer/download_history.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ferry {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS history (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL UNIQUE,
  sha256      TEXT NOT NULL,
  name        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  state       TEXT NOT NULL,
  error       TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  millis      INTEGER NOT NULL,
  rate        INTEGER NOT NULL,
  path        TEXT NOT NULL,
  sources     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS unfinished (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,
  sha256     TEXT NOT NULL,
  name       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  paused     INTEGER NOT NULL
);
)sql";

std::string SourcesJson(const std::vector<HistorySource>& sources) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : sources) {
    out.push_back(
        {{"peer_id", s.peer_id}, {"user", s.user}, {"address", s.address}, {"bytes", s.bytes}});
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The sources recorded; none when the text does not parse (the entry is
// still shown).
std::vector<HistorySource> ParseSources(const std::string& text) {
  std::vector<HistorySource> out;
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return out;
  for (const auto& s : parsed) {
    if (!s.is_object()) continue;
    HistorySource source;
    source.peer_id = s.value("peer_id", "");
    source.user = s.value("user", "");
    source.address = s.value("address", "");
    source.bytes = s.value("bytes", int64_t{0});
    out.push_back(std::move(source));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<DownloadHistory>> DownloadHistory::Open(const std::string& path) {
  auto db = Db::Open(path);
  if (!db.ok()) {
    return Status(db.status().code(), fmt::format("cannot open the download history '{}': {}", path,
                                                  db.status().message()));
  }
  FERRY_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::make_unique<DownloadHistory>(std::move(db).value());
}

Status DownloadHistory::Add(const HistoryEntry& e) {
  std::lock_guard lock(mu_);
  auto stmt = db_.Prepare(
      "INSERT OR REPLACE INTO history (id, sha256, name, size, state, error, started_at, "
      "finished_at, millis, rate, path, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, e.id)
      .Bind(2, e.sha256)
      .Bind(3, e.name)
      .Bind(4, e.size)
      .Bind(5, e.state)
      .Bind(6, e.error)
      .Bind(7, e.started_at)
      .Bind(8, e.finished_at)
      .Bind(9, static_cast<int64_t>(e.seconds * 1000))
      .Bind(10, static_cast<int64_t>(e.rate))
      .Bind(11, e.path)
      .Bind(12, SourcesJson(e.sources));
  return stmt->Run();
}

Result<std::vector<HistoryEntry>> DownloadHistory::Newest(int limit) {
  std::lock_guard lock(mu_);
  auto stmt = db_.Prepare(
      "SELECT id, sha256, name, size, state, error, started_at, finished_at, millis, rate, path, "
      "sources FROM history ORDER BY seq DESC LIMIT ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, static_cast<int64_t>(limit));
  std::vector<HistoryEntry> out;
  for (;;) {
    auto more = stmt->Step();
    if (!more.ok()) return more.status();
    if (!*more) break;
    HistoryEntry e;
    e.id = stmt->Text(0);
    e.sha256 = stmt->Text(1);
    e.name = stmt->Text(2);
    e.size = stmt->Int(3);
    e.state = stmt->Text(4);
    e.error = stmt->Text(5);
    e.started_at = stmt->Int(6);
    e.finished_at = stmt->Int(7);
    e.seconds = static_cast<double>(stmt->Int(8)) / 1000;
    e.rate = static_cast<double>(stmt->Int(9));
    e.path = stmt->Text(10);
    e.sources = ParseSources(stmt->Text(11));
    out.push_back(std::move(e));
  }
  return out;
}

Status DownloadHistory::SaveUnfinished(const UnfinishedDownload& d) {
  std::lock_guard lock(mu_);
  auto stmt = db_.Prepare(
      "INSERT INTO unfinished (id, sha256, name, size, started_at, paused) VALUES (?, ?, ?, ?, ?, "
      "?) ON CONFLICT(id) DO UPDATE SET size = excluded.size, paused = excluded.paused");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, d.id)
      .Bind(2, d.sha256)
      .Bind(3, d.name)
      .Bind(4, d.size)
      .Bind(5, d.started_at)
      .Bind(6, int64_t{d.paused ? 1 : 0});
  return stmt->Run();
}

Status DownloadHistory::ForgetUnfinished(const std::string& id) {
  std::lock_guard lock(mu_);
  auto stmt = db_.Prepare("DELETE FROM unfinished WHERE id = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, id);
  return stmt->Run();
}

Result<std::vector<UnfinishedDownload>> DownloadHistory::Unfinished() {
  std::lock_guard lock(mu_);
  auto stmt =
      db_.Prepare("SELECT id, sha256, name, size, started_at, paused FROM unfinished ORDER BY seq");
  if (!stmt.ok()) return stmt.status();
  std::vector<UnfinishedDownload> out;
  for (;;) {
    auto more = stmt->Step();
    if (!more.ok()) return more.status();
    if (!*more) break;
    UnfinishedDownload d;
    d.id = stmt->Text(0);
    d.sha256 = stmt->Text(1);
    d.name = stmt->Text(2);
    d.size = stmt->Int(3);
    d.started_at = stmt->Int(4);
    d.paused = stmt->Int(5) != 0;
    out.push_back(std::move(d));
  }
  return out;
}

Result<int64_t> DownloadHistory::Count() {
  std::lock_guard lock(mu_);
  auto stmt = db_.Prepare("SELECT COUNT(*) FROM history");
  if (!stmt.ok()) return stmt.status();
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  return stmt->Int(0);
}

}  // namespace ferry
