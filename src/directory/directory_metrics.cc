#include "directory/directory_metrics.h"

#include <string>

#include "net/prometheus_text.h"

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
  PrometheusText out;
  {
    std::lock_guard lock(mu_);
    out.Family("ferry_directory_requests_total", "counter",
               "HTTP requests answered, by route and status.");
    for (const auto& [key, n] : requests_) {
      const std::string status = std::to_string(key.second);
      out.Sample("ferry_directory_requests_total", {{"route", key.first}, {"status", status}}, n);
    }
    out.Family("ferry_directory_request_seconds", "histogram",
               "Time to answer a request, by route.");
    for (const auto& [route, h] : latency_) {
      out.Histogram("ferry_directory_request_seconds", {"route", route}, kBuckets, h.buckets, h.sum,
                    h.count);
    }
  }
  out.Single("ferry_directory_online_peers", "gauge", "Peers that sent a heartbeat recently.",
             counts.online_peers);
  out.Single("ferry_directory_indexed_files", "gauge", "Files shared by online peers.",
             counts.indexed_files);
  out.Single("ferry_directory_accounts", "gauge", "Registered accounts.", counts.accounts);
  out.Single("ferry_directory_index_upkeep_pending", "gauge",
             "1 while the store's search index has merging (SQLite, after many writes) or "
             "loading (PostgreSQL, at start) left to do, 0 when it is ready.",
             counts.index_upkeep_pending ? 1 : 0);
  out.Single("ferry_directory_name_index_names", "gauge",
             "File names in the in-memory search index (0 while it loads or is set aside).",
             counts.names_in_memory);
  out.Single("ferry_directory_name_index_bytes", "gauge",
             "Memory held by the in-memory search index.", counts.name_index_bytes);
  out.Family("ferry_directory_search_cache_total", "counter",
             "Searches answered from recent answers (hit) or by the store (miss).");
  out.Sample("ferry_directory_search_cache_total", {{"result", "hit"}}, cache.hits);
  out.Sample("ferry_directory_search_cache_total", {{"result", "miss"}}, cache.misses);
  out.Single("ferry_directory_search_cache_bytes", "gauge", "Memory held by recent search answers.",
             cache.bytes);
  return out.Take();
}

}  // namespace ferry
