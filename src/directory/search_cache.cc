#include "directory/search_cache.h"

#include <fmt/format.h>

namespace ferry {
namespace {

// Text and sha256 are each a single field of a query string, so a NUL cannot
// occur in them and separates them unambiguously.
std::string KeyOf(const SearchQuery& query) {
  std::string key = query.text;
  key += '\0';
  key += query.sha256;
  key += '\0';
  key += fmt::format("{}/{}/{}", query.limit, query.offset, query.max_peers_per_hit);
  return key;
}

size_t BytesOf(const SearchAnswer& answer) {
  size_t n = sizeof(SearchAnswer) + answer.json.size() + sizeof(SearchHit) * answer.hits.size();
  for (const auto& hit : answer.hits) {
    n += hit.name.size() + hit.sha256.size();
    for (const auto& peer : hit.peers) {
      n +=
          sizeof(PeerAddress) + peer.peer_id.size() + peer.address.size() + peer.cert_sha256.size();
    }
  }
  return n;
}

}  // namespace

SearchCache::SearchCache(std::chrono::milliseconds ttl, size_t max_bytes)
    : ttl_ms_(ttl.count()), max_bytes_(max_bytes) {}

SharedSearchAnswer SearchCache::Find(const SearchQuery& query, int64_t now) const {
  if (ttl_ms_ <= 0) return nullptr;
  std::lock_guard lock(mu_);
  auto it = entries_.find(KeyOf(query));
  if (it == entries_.end() || now - it->second.computed_at >= ttl_ms_ ||
      now < it->second.computed_at) {
    return nullptr;
  }
  return it->second.answer;
}

void SearchCache::Count(bool hit) {
  std::lock_guard lock(mu_);
  ++(hit ? hits_ : misses_);
}

SearchCache::Ticket SearchCache::Begin() const {
  std::lock_guard lock(mu_);
  return Ticket{generation_};
}

void SearchCache::Store(const SearchQuery& query, Ticket ticket, int64_t now,
                        SharedSearchAnswer answer) {
  if (ttl_ms_ <= 0 || !answer) return;
  std::string key = KeyOf(query);
  size_t bytes = BytesOf(*answer) + key.size();
  if (bytes > max_bytes_) return;
  std::lock_guard lock(mu_);
  if (ticket.generation != generation_) return;  // a change landed meanwhile
  auto old = entries_.find(key);
  if (old != entries_.end()) {
    // Replaced in place; its slot in order_ stays, so it may go a little
    // early, never late.
    bytes_ -= old->second.bytes;
    bytes_ += bytes;
    old->second = Entry{std::move(answer), now, bytes};
    MakeRoom(0, now);
    return;
  }
  MakeRoom(bytes, now);
  entries_.emplace(key, Entry{std::move(answer), now, bytes});
  order_.push_back(std::move(key));
  bytes_ += bytes;
}

void SearchCache::Invalidate() {
  std::lock_guard lock(mu_);
  ++generation_;
  entries_.clear();
  order_.clear();
  bytes_ = 0;
}

SearchCache::Stats SearchCache::stats() const {
  std::lock_guard lock(mu_);
  return Stats{hits_, misses_, bytes_};
}

void SearchCache::MakeRoom(size_t incoming, int64_t now) {
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    bool expired = it == entries_.end() || now - it->second.computed_at >= ttl_ms_;
    if (!expired && bytes_ + incoming <= max_bytes_) break;
    if (it != entries_.end()) {
      bytes_ -= it->second.bytes;
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

}  // namespace ferry
