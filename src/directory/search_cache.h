// Recent search answers, so that a query many clients repeat (a popular
// title) costs one store search per short while instead of one per request.
//
// An answer is served for at most `ttl` after it was computed, and never after
// Invalidate(): the service calls it after every change made through this
// instance (announce, removal, logout, expiry), so those show at once. Changes
// made through another instance over the same database show within `ttl`, as
// heartbeats do. A search that raced with a change is not stored: callers take
// a Ticket before asking the store and hand it back with the answer.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "directory/directory_store.h"
#include "directory/search_json.h"

namespace ferry {

class SearchCache {
 public:
  // What a cache may hold: answers younger than `ttl`, `max_bytes` in all
  // (counting the strings of the hits and the JSON). A zero ttl turns the
  // cache off.
  SearchCache(std::chrono::milliseconds ttl, size_t max_bytes);

  struct Ticket {
    uint64_t generation = 0;
  };

  // The stored answer for `query`, if one is fresh at `now` (Unix ms); null
  // otherwise. Shared, not copied: it stays valid after the cache drops it.
  SharedSearchAnswer Find(const SearchQuery& query, int64_t now) const;
  // Counts a search as answered from the cache or not (for stats()).
  void Count(bool hit);
  // Taken before the store is asked.
  Ticket Begin() const;
  // Keeps `answer`, computed at `now`, unless the cache was invalidated since
  // `ticket` was taken.
  void Store(const SearchQuery& query, Ticket ticket, int64_t now, SharedSearchAnswer answer);
  // Drops every answer, and any answer being computed.
  void Invalidate();

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t bytes = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    SharedSearchAnswer answer;
    int64_t computed_at = 0;
    size_t bytes = 0;
  };
  // REQUIRES: mu_ held. Drops the oldest answers until one of `incoming`
  // bytes fits, and every answer past its ttl.
  void MakeRoom(size_t incoming, int64_t now);

  const int64_t ttl_ms_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;                         // GUARDED_BY(mu_)
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
  std::deque<std::string> order_;                   // keys, oldest first; GUARDED_BY(mu_)
  size_t bytes_ = 0;                                // GUARDED_BY(mu_)
  uint64_t hits_ = 0;                               // GUARDED_BY(mu_)
  uint64_t misses_ = 0;                             // GUARDED_BY(mu_)
};

}  // namespace ferry
