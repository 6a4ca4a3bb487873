// Writes the Prometheus text exposition format, version 0.0.4: each family
// once, with its HELP and TYPE lines, then its samples. Names follow
// ferry_<component>_<what>, counters end in _total, label values come from
// fixed sets so the number of series stays bounded. Not thread-safe: one
// writer per rendering.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace ferry {

// The Content-Type of a /metrics reply.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

using PrometheusLabels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class PrometheusText {
 public:
  // Starts a family; `type` is "counter", "gauge" or "histogram". REQUIRES:
  // each name once per rendering, and a counter's name ends in _total.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample; `name` is the family's name (or, for a histogram, the
  // family's name plus _bucket, _sum or _count). Label values are escaped.
  void Sample(std::string_view name, PrometheusLabels labels, uint64_t value);
  void Sample(std::string_view name, PrometheusLabels labels, double value);
  // A family of one sample without labels.
  void Single(std::string_view name, std::string_view type, std::string_view help, uint64_t value);
  // The samples of one histogram series: `counts[i]` observations fell at or
  // below `bounds[i]` and above the bound before it; `count` is the total
  // (those above the last bound included). `label` may be empty ({"", ""}).
  void Histogram(std::string_view name, std::pair<std::string_view, std::string_view> label,
                 std::span<const double> bounds, std::span<const uint64_t> counts, double sum,
                 uint64_t count);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Labels(PrometheusLabels labels);
  std::string out_;
};

}  // namespace ferry
