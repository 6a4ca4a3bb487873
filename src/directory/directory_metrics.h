// Request counters and latency histograms for /metrics, in the Prometheus text
// format. Thread-safe; one short lock per request.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "directory/directory_store.h"
#include "directory/search_cache.h"

namespace ferry {

class DirectoryMetrics {
 public:
  // Upper bounds of the latency buckets, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  // `route` is the route's pattern ("/api/v1/peers/{id}"), never the raw path,
  // so the number of series stays fixed.
  void Record(const std::string& route, int status, std::chrono::nanoseconds latency);
  std::string Render(const DirectoryCounts& counts, const SearchCache::Stats& cache) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // GUARDED_BY(mu_)
  std::map<std::string, Histogram> latency_;                  // GUARDED_BY(mu_)
};

}  // namespace ferry
