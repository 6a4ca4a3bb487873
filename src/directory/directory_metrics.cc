#include "directory/directory_metrics.h"

#include <fmt/format.h>

namespace ferry {

void DirectoryMetrics::Record(const std::string& route, int status,
                              std::chrono::nanoseconds latency) {
  double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mu_);
  requests_[{route, status}]++;
  Histogram& h = latency_[route];
  h.count++;
  h.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      h.buckets[i]++;
      break;
    }
  }
}

std::string DirectoryMetrics::Render(const DirectoryCounts& counts,
                                     const SearchCache::Stats& cache) const {
  std::string out;
  out += "# HELP ferry_directory_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE ferry_directory_requests_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [key, n] : requests_) {
    out += fmt::format("ferry_directory_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       key.first, key.second, n);
  }
  out += "# HELP ferry_directory_request_seconds Time to answer a request, by route.\n";
  out += "# TYPE ferry_directory_request_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += fmt::format("ferry_directory_request_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                         route, kBuckets[i], cumulative);
    }
    out += fmt::format("ferry_directory_request_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                       route, h.count);
    out += fmt::format("ferry_directory_request_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
    out +=
        fmt::format("ferry_directory_request_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
  }
  out += "# HELP ferry_directory_online_peers Peers that sent a heartbeat recently.\n";
  out += "# TYPE ferry_directory_online_peers gauge\n";
  out += fmt::format("ferry_directory_online_peers {}\n", counts.online_peers);
  out += "# HELP ferry_directory_indexed_files Files shared by online peers.\n";
  out += "# TYPE ferry_directory_indexed_files gauge\n";
  out += fmt::format("ferry_directory_indexed_files {}\n", counts.indexed_files);
  out += "# HELP ferry_directory_accounts Registered accounts.\n";
  out += "# TYPE ferry_directory_accounts gauge\n";
  out += fmt::format("ferry_directory_accounts {}\n", counts.accounts);
  out +=
      "# HELP ferry_directory_index_upkeep_pending 1 while the store's search index has merging "
      "(SQLite, after many writes) or loading (PostgreSQL, at start) left to do, 0 when it is "
      "ready.\n";
  out += "# TYPE ferry_directory_index_upkeep_pending gauge\n";
  out +=
      fmt::format("ferry_directory_index_upkeep_pending {}\n", counts.index_upkeep_pending ? 1 : 0);
  out +=
      "# HELP ferry_directory_name_index_names File names in the in-memory search index "
      "(0 while it loads or is set aside).\n";
  out += "# TYPE ferry_directory_name_index_names gauge\n";
  out += fmt::format("ferry_directory_name_index_names {}\n", counts.names_in_memory);
  out += "# HELP ferry_directory_name_index_bytes Memory held by the in-memory search index.\n";
  out += "# TYPE ferry_directory_name_index_bytes gauge\n";
  out += fmt::format("ferry_directory_name_index_bytes {}\n", counts.name_index_bytes);
  out +=
      "# HELP ferry_directory_search_cache_total Searches answered from recent answers (hit) "
      "or by the store (miss).\n";
  out += "# TYPE ferry_directory_search_cache_total counter\n";
  out += fmt::format("ferry_directory_search_cache_total{{result=\"hit\"}} {}\n", cache.hits);
  out += fmt::format("ferry_directory_search_cache_total{{result=\"miss\"}} {}\n", cache.misses);
  out += "# HELP ferry_directory_search_cache_bytes Memory held by recent search answers.\n";
  out += "# TYPE ferry_directory_search_cache_bytes gauge\n";
  out += fmt::format("ferry_directory_search_cache_bytes {}\n", cache.bytes);
  return out;
}

}  // namespace ferry
