#include "directory/postgres_name_feed.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <pqxx/pqxx>

namespace ferry {

namespace {

// Rows read per statement while loading: a few MB, a few tens of ms.
constexpr int kLoadChunk = 20000;
// How often the index's size is compared with the table's.
constexpr auto kSizeCheckEvery = std::chrono::seconds(60);

std::string IdList(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (int64_t id : ids) {
    if (out.size() > 1) out += ',';
    out += std::to_string(id);
  }
  return out + "}";
}

// "MIN MAX" as FilesAnnouncement writes it; false for anything else.
bool ParseAnnouncement(const std::string& payload, int64_t& min_id, int64_t& max_id) {
  const char* begin = payload.data();
  const char* end = begin + payload.size();
  auto first = std::from_chars(begin, end, min_id);
  if (first.ec != std::errc() || first.ptr == end || *first.ptr != ' ') return false;
  auto second = std::from_chars(first.ptr + 1, end, max_id);
  return second.ec == std::errc() && second.ptr == end && min_id <= max_id;
}

}  // namespace

std::string FilesAnnouncement(int64_t min_id, int64_t max_id) {
  return std::to_string(min_id) + " " + std::to_string(max_id);
}

struct PostgresNameFeed::Listener {
  class FilesReceiver final : public pqxx::notification_receiver {
   public:
    FilesReceiver(pqxx::connection_base& c, std::vector<std::string>* out)
        : notification_receiver(c, kFilesChannel), out_(out) {}
    void operator()(const std::string& payload, int) override { out_->push_back(payload); }

   private:
    std::vector<std::string>* out_;
  };

  class PeersReceiver final : public pqxx::notification_receiver {
   public:
    PeersReceiver(pqxx::connection_base& c, PeerBook* book)
        : notification_receiver(c, kPeersChannel), book_(book) {}
    void operator()(const std::string& peer_id, int) override { book_->Forget(peer_id); }

   private:
    PeerBook* book_;
  };

  Listener(const std::string& conninfo, std::vector<std::string>* out, PeerBook* book)
      : conn(conninfo), files(conn, out), peers(conn, book) {}

  pqxx::connection conn;
  // Declared after conn: they stop listening before it closes.
  FilesReceiver files;
  PeersReceiver peers;
};

PostgresNameFeed::PostgresNameFeed(std::string conninfo,
                                   std::function<std::string(const std::string&)> clean,
                                   PeerBook* book)
    : conninfo_(std::move(conninfo)), clean_(std::move(clean)), book_(book) {}

PostgresNameFeed::~PostgresNameFeed() {
  // First: to stop listening on one channel delivers what is pending to the
  // other's receiver, which writes to members declared after listener_.
  listener_.reset();
}

std::shared_ptr<NameIndex> PostgresNameFeed::index() const {
  std::lock_guard lock(published_mu_);
  return published_;
}

void PostgresNameFeed::Publish(std::shared_ptr<NameIndex> index) {
  std::lock_guard lock(published_mu_);
  published_ = std::move(index);
}

void PostgresNameFeed::Withdraw() {
  book_->Disable();
  Publish(nullptr);
  listener_.reset();
  loading_.reset();
  announced_.clear();
}

void PostgresNameFeed::Connect() {
  listener_.reset();
  announced_.clear();
  // LISTEN comes before the first read, so a row committed after that read
  // is announced to us (and a peer changed after the book is on).
  listener_ = std::make_unique<Listener>(conninfo_, &announced_, book_);
  book_->Enable();
  {
    // So that pg_stat_activity tells an operator what the idle connection is.
    pqxx::nontransaction tx(listener_->conn);
    tx.exec0("SET application_name = 'ferry directory name index'");
  }
  loading_ = std::make_shared<NameIndex>();
  loaded_up_to_ = 0;
  next_size_check_ = std::chrono::steady_clock::now() + kSizeCheckEvery;
}

bool PostgresNameFeed::LoadChunk() {
  pqxx::nontransaction tx(listener_->conn);
  auto rows = tx.exec_params("SELECT id, name_lc FROM files WHERE id > $1 ORDER BY id LIMIT $2",
                             loaded_up_to_, kLoadChunk);
  for (const auto& row : rows) {
    loaded_up_to_ = row[0].as<int64_t>();
    loading_->Put(loaded_up_to_, row[1].as<std::string>());
  }
  if (rows.size() == static_cast<size_t>(kLoadChunk)) return false;
  Publish(std::move(loading_));
  loading_.reset();
  return true;
}

void PostgresNameFeed::ApplyAnnounced() {
  listener_->conn.get_notifs();  // calls the receiver, which fills announced_
  if (announced_.empty()) return;
  std::vector<int64_t> mins, maxes;
  for (const auto& payload : announced_) {
    int64_t min_id = 0, max_id = 0;
    if (ParseAnnouncement(payload, min_id, max_id)) {
      mins.push_back(min_id);
      maxes.push_back(max_id);
    } else {
      spdlog::warn("directory: ignored a malformed '{}' notification: '{}'", kFilesChannel,
                   payload);
    }
  }
  announced_.clear();
  if (mins.empty()) return;
  auto published = index();
  pqxx::nontransaction tx(listener_->conn);
  auto rows = tx.exec_params(
      "SELECT f.id, f.name_lc FROM unnest($1::bigint[], $2::bigint[]) AS r (lo, hi) "
      "JOIN files f ON f.id BETWEEN r.lo AND r.hi",
      IdList(mins), IdList(maxes));
  for (const auto& row : rows) {
    const auto id = row[0].as<int64_t>();
    const auto name = row[1].as<std::string>();
    if (published) published->Put(id, name);
    // Rows past what the load has read come with a later chunk.
    if (loading_ && id <= loaded_up_to_) loading_->Put(id, name);
  }
}

void PostgresNameFeed::MaybeScheduleReload() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_size_check_) return;
  next_size_check_ = now + kSizeCheckEvery;
  auto published = index();
  if (!published) return;
  const auto held = static_cast<int64_t>(published->size());
  auto stale = [&](int64_t rows) { return held > rows + rows / 4 + 1000; };
  pqxx::nontransaction tx(listener_->conn);
  // The statistics' live-row count costs nothing; counting a million rows
  // takes a core for a tenth of a second, so only to confirm.
  const auto estimate = tx.exec1(
                              "SELECT coalesce((SELECT n_live_tup FROM pg_stat_user_tables "
                              "WHERE relid = 'files'::regclass), 0)")[0]
                            .as<int64_t>();
  if (!stale(estimate)) return;
  const auto rows = tx.exec1("SELECT count(*) FROM files")[0].as<int64_t>();
  if (!stale(rows)) return;
  // Deleted rows are not announced; a fresh copy drops them. The current one
  // serves until then.
  spdlog::info("directory: the search index holds {} names for {} files; reloading it", held, rows);
  loading_ = std::make_shared<NameIndex>();
  loaded_up_to_ = 0;
}

Result<bool> PostgresNameFeed::Sync(std::chrono::milliseconds budget) {
  std::lock_guard lock(mu_);
  try {
    if (!listener_) Connect();
    const auto deadline = std::chrono::steady_clock::now() + budget;
    ApplyAnnounced();
    while (loading_ && !LoadChunk()) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      ApplyAnnounced();
    }
    ApplyAnnounced();
    if (!loading_) MaybeScheduleReload();
    return loading_ != nullptr;
  } catch (const std::exception& e) {
    Withdraw();
    return Status::Unavailable("the search index lost the directory database: " + clean_(e.what()));
  }
}

void PostgresNameFeed::CatchUp() {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || !listener_) return;
  try {
    ApplyAnnounced();
  } catch (const std::exception& e) {
    spdlog::warn("directory: the search index lost the directory database: {}", clean_(e.what()));
    Withdraw();
  }
}

}  // namespace ferry
