#include "peer/chunk_schedule.h"

#include <algorithm>

namespace ferry {

ChunkSchedule::ChunkSchedule(std::vector<bool> done)
    : done_(std::move(done)), holders_(done_.size()), since_(done_.size(), 0) {
  for (bool d : done_) (d ? done_count_ : pending_count_)++;
}

std::optional<ChunkRange> ChunkSchedule::Take(int peer, int max_chunks, int64_t now,
                                              int64_t endgame_after) {
  if (pending_count_ > 0) {
    while (low_ < done_.size() && !Pending(low_)) ++low_;
    size_t i = low_;
    ChunkRange r{static_cast<int64_t>(i), 0};
    while (i < done_.size() && r.count < max_chunks && Pending(i)) {
      holders_[i].push_back(peer);
      since_[i] = now;
      --pending_count_;
      ++r.count;
      ++i;
    }
    return r;
  }
  // Endgame: a second copy of a chunk one other peer is still sending.
  for (size_t i = 0; i < done_.size(); ++i) {
    if (done_[i] || holders_[i].size() != 1 || holders_[i][0] == peer) continue;
    if (now - since_[i] < endgame_after) continue;
    holders_[i].push_back(peer);
    return ChunkRange{static_cast<int64_t>(i), 1};
  }
  return std::nullopt;
}

bool ChunkSchedule::Complete(int64_t chunk, int peer) {
  auto i = static_cast<size_t>(chunk);
  std::erase(holders_[i], peer);
  if (done_[i]) return false;
  done_[i] = true;
  ++done_count_;
  return true;
}

void ChunkSchedule::Release(int64_t chunk, int peer) {
  auto i = static_cast<size_t>(chunk);
  if (std::erase(holders_[i], peer) == 0) return;
  if (Pending(i)) {
    ++pending_count_;
    low_ = std::min(low_, i);
  }
}

}  // namespace ferry
