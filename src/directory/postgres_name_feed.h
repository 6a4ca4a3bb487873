// Keeps a NameIndex of the files table of a PostgreSQL directory database in
// step with it, when several directory instances write that database.
//
// How: every instance that inserts files sends NOTIFY ferry_files "MIN MAX"
// (the range of the new rows' ids) in the same transaction, so the message
// arrives exactly when the rows are visible. The feed LISTENs on a connection
// of its own, first reads every name in id order (a chunk at a time, between
// which it applies what was announced meanwhile), then reads the announced
// ranges as they come. Deleted rows are not announced: searches Forget() ids
// whose rows they no longer find, and once a minute the feed compares its size
// with the table's and reloads when a quarter of it is stale.
//
// If the listening connection breaks, messages may have been lost: the index
// is withdrawn (index() returns null and searches go to the database) until a
// reload is complete.
//
// The same connection LISTENs on ferry_peers, where instances send the id of a
// peer whose address or certificate they changed (or that they added: an id
// may have been used before), and the feed makes the PeerBook forget it. The
// book is on only while the feed listens.
//
// Thread-safe. Sync() is for the maintenance thread; CatchUp() for searches.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "directory/name_index.h"
#include "directory/peer_book.h"

namespace ferry {

// The channel and payload instances announce new rows with.
inline constexpr const char* kFilesChannel = "ferry_files";
std::string FilesAnnouncement(int64_t min_id, int64_t max_id);
// The channel a changed peer's id is sent on.
inline constexpr const char* kPeersChannel = "ferry_peers";

class PostgresNameFeed {
 public:
  // `clean` makes a database message fit to show (no password). `book`
  // outlives the feed.
  PostgresNameFeed(std::string conninfo, std::function<std::string(const std::string&)> clean,
                   PeerBook* book);
  ~PostgresNameFeed();
  PostgresNameFeed(const PostgresNameFeed&) = delete;
  PostgresNameFeed& operator=(const PostgresNameFeed&) = delete;

  // The index once it holds every name; null before, and while it reloads
  // after losing the connection. Holders may keep using it meanwhile (it is
  // then a superset or a stale copy, never a torn one).
  std::shared_ptr<NameIndex> index() const;

  // Connects and listens if needed, loads names for about `budget`, and reads
  // the announced ranges. True while a load has work left; UNAVAILABLE if the
  // database cannot be reached (the index is withdrawn).
  Result<bool> Sync(std::chrono::milliseconds budget);

  // Reads the ranges announced so far, unless a Sync is running. Cheap when
  // nothing was announced (one non-blocking read on the socket).
  void CatchUp();

 private:
  struct Listener;  // the connection and its LISTEN

  // REQUIRES: mu_ held. Throws what pqxx throws.
  void Connect();
  bool LoadChunk();  // true when the load is complete
  void ApplyAnnounced();
  void MaybeScheduleReload();
  void Withdraw();
  void Publish(std::shared_ptr<NameIndex> index);

  const std::string conninfo_;
  const std::function<std::string(const std::string&)> clean_;
  PeerBook* const book_;

  std::mutex mu_;                       // held through Sync() and CatchUp(); guards all below
  std::unique_ptr<Listener> listener_;  // null until connected
  std::vector<std::string> announced_;  // payloads not yet applied
  std::shared_ptr<NameIndex> loading_;  // being filled, or null
  int64_t loaded_up_to_ = 0;            // ids <= this were read into loading_
  std::chrono::steady_clock::time_point next_size_check_{};

  mutable std::mutex published_mu_;
  std::shared_ptr<NameIndex> published_;  // GUARDED_BY(published_mu_)
};

}  // namespace ferry
