// Which chunk of a download goes to which peer next: one queue of pending
// chunks that every peer's request slots take from, so a faster peer, asking
// again sooner, takes more. Near the end, when nothing is pending, a chunk in
// flight at one peer is handed to a second peer too (endgame), so one slow
// peer does not hold up the end; the first verified copy wins.
//
// Pure bookkeeping, no I/O and no lock: not thread-safe, the downloader
// calls it under its own mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace ferry {

// Chunks [first, first + count) of the grid.
struct ChunkRange {
  int64_t first = 0;
  int count = 0;
};

class ChunkSchedule {
 public:
  // `done[i]` marks chunk i as verified already (a resumed download); its
  // size is the chunk count.
  explicit ChunkSchedule(std::vector<bool> done);

  // The next chunks for peer `peer` to ask for: up to `max_chunks` consecutive
  // pending chunks, now in flight at that peer. With nothing pending, one
  // chunk in flight at exactly one other peer since `endgame_after` or
  // longer before `now` (endgame), lowest first. Empty when there is nothing
  // this peer can help with now. Times are in any unit, the same for every
  // call (the downloader uses milliseconds of a steady clock).
  std::optional<ChunkRange> Take(int peer, int max_chunks, int64_t now = 0,
                                 int64_t endgame_after = 0);
  // Chunk `chunk` arrived from `peer` and verified. True if it is the first
  // copy (the caller writes it); false if another copy won already.
  bool Complete(int64_t chunk, int peer);
  // `peer`'s request for `chunk` ended without it: the chunk is pending again
  // unless it is done or still in flight elsewhere.
  void Release(int64_t chunk, int peer);

  bool done(int64_t chunk) const { return done_[static_cast<size_t>(chunk)]; }
  bool AllDone() const { return done_count_ == static_cast<int64_t>(done_.size()); }
  int64_t done_count() const { return done_count_; }
  int64_t pending_count() const { return pending_count_; }
  int64_t chunk_count() const { return static_cast<int64_t>(done_.size()); }

 private:
  bool Pending(size_t i) const { return !done_[i] && holders_[i].empty(); }

  std::vector<bool> done_;
  // The peers each chunk is in flight at (at most two: endgame).
  std::vector<std::vector<int>> holders_;
  // When each chunk in flight was taken by its first holder.
  std::vector<int64_t> since_;
  int64_t done_count_ = 0;
  int64_t pending_count_ = 0;
  // No pending chunk lies below this index (a hint for Take).
  size_t low_ = 0;
};

}  // namespace ferry
