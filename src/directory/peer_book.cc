#include "directory/peer_book.h"

#include <algorithm>

namespace ferry {

const BookedPeer* PeerBook::FindLocked(std::string_view peer_id, int64_t online_since) const {
  auto it = peers_.find(peer_id);
  if (it == peers_.end() || it->second.last_seen < online_since) return nullptr;
  return &it->second;
}

const BookedPeer* PeerBook::Reader::Find(std::string_view peer_id, int64_t online_since) const {
  return book_.FindLocked(peer_id, online_since);
}

std::optional<BookedPeer> PeerBook::Find(std::string_view peer_id, int64_t online_since) const {
  std::lock_guard lock(mu_);
  const BookedPeer* peer = FindLocked(peer_id, online_since);
  if (peer == nullptr) return std::nullopt;
  return *peer;
}

uint64_t PeerBook::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void PeerBook::Fill(const PeerMap& peers, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (!enabled_ || generation != generation_) return;
  for (const auto& [id, peer] : peers) {
    auto [it, inserted] = peers_.emplace(id, peer);
    if (!inserted) {
      const int64_t seen = std::max(it->second.last_seen, peer.last_seen);
      it->second = peer;
      it->second.last_seen = seen;
    }
  }
}

void PeerBook::Touch(const std::string& peer_id, int64_t seen) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(peer_id);
  if (it != peers_.end()) it->second.last_seen = std::max(it->second.last_seen, seen);
}

void PeerBook::Forget(const std::string& peer_id) {
  std::lock_guard lock(mu_);
  ++generation_;
  peers_.erase(peer_id);
}

void PeerBook::Prune(int64_t seen_before) {
  std::lock_guard lock(mu_);
  std::erase_if(peers_, [&](const auto& entry) { return entry.second.last_seen < seen_before; });
}

void PeerBook::Enable() {
  std::lock_guard lock(mu_);
  ++generation_;
  peers_.clear();
  enabled_ = true;
}

void PeerBook::Disable() {
  std::lock_guard lock(mu_);
  ++generation_;
  peers_.clear();
  enabled_ = false;
}

size_t PeerBook::size() const {
  std::lock_guard lock(mu_);
  return peers_.size();
}

}  // namespace ferry
