// What one directory instance remembers of peers (address, certificate, and
// a time they were seen), so that a search's peers are not read from a shared
// PostgreSQL database every time.
//
// Why: a search answer can name hundreds of peers (up to 50 per hit), and a
// primary-key lookup in the peers table for each is half of PostgreSQL's CPU
// per search (docs/benchmarks.md). Peers' addresses hardly ever change, and whether a peer is online
// can be told from a time it was seen, so most searches need none of them.
//
// How it stays true with several instances writing:
// - `last_seen` here is never later than the database's: it only grows
//   there (heartbeats and announces keep the greatest), so a peer seen here
//   since `online_since` is online. Anything that looks older (Find() gives
//   nothing) is read again: the peer may have been seen through another
//   instance since.
// - An address or certificate changes only by an announce, and every
//   instance that commits one NOTIFYs the peer's id; the listener Forget()s it.
//   A peer that is deleted leaves no files, so searches stop asking for it;
//   Prune() lets its entry go.
// - A read from the database can race with a change: read the old row, the
//   change commits and is forgotten here, then the old row is filled in. So
//   Fill() takes the generation noted before the read and refuses the rows if
//   anything was forgotten since.
// - While nobody listens (no connection yet, or it broke and notices were
//   lost) the book is off: it finds nothing and keeps nothing.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ferry {

struct BookedPeer {
  std::string address;
  std::string cert_sha256;
  int64_t last_seen = 0;
};

// Peers by id, found by std::string_view as well (ids straight from a
// database row, without a copy).
struct PeerIdHash {
  using is_transparent = void;
  size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
};
using PeerMap = std::unordered_map<std::string, BookedPeer, PeerIdHash, std::equal_to<>>;

class PeerBook {
 public:
  // Holds the book for a batch of lookups (one lock for hundreds of them).
  // Keep it only while looking up: Fill() and the others wait meanwhile.
  class Reader {
   public:
    // The peer if it is known here and was seen since `online_since`; valid
    // while the Reader lives.
    const BookedPeer* Find(std::string_view peer_id, int64_t online_since) const;

   private:
    friend class PeerBook;
    explicit Reader(const PeerBook& book) : book_(book), lock_(book.mu_) {}
    const PeerBook& book_;
    std::unique_lock<std::mutex> lock_;
  };
  Reader Read() const { return Reader(*this); }

  // One peer, as Reader::Find, copied.
  std::optional<BookedPeer> Find(std::string_view peer_id, int64_t online_since) const;

  // Changes with every Forget(), Enable() and Disable().
  uint64_t generation() const;

  // Keeps peers read from the database, unless the book is off or something
  // was forgotten since `generation` was noted (before the read).
  void Fill(const PeerMap& peers, uint64_t generation);

  // Raises a known peer's last_seen to `seen` (this instance recorded its
  // heartbeat); unknown peers stay unknown.
  void Touch(const std::string& peer_id, int64_t seen);

  void Forget(const std::string& peer_id);

  // Drops peers last seen before `seen_before`: gone, or seen through other
  // instances since, which the next lookup reads again.
  void Prune(int64_t seen_before);

  // On: empty, and keeps what is filled from now on. Off: empty, and keeps
  // nothing.
  void Enable();
  void Disable();

  size_t size() const;

 private:
  const BookedPeer* FindLocked(std::string_view peer_id, int64_t online_since) const;

  mutable std::mutex mu_;
  bool enabled_ = false;
  uint64_t generation_ = 0;
  PeerMap peers_;
};

}  // namespace ferry
