#include "net/prometheus_text.h"

#include <fmt/format.h>

namespace ferry {
namespace {

// Label values escape backslash, double quote and line feed; HELP text
// escapes backslash and line feed.
void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  AppendEscaped(out_, help, false);
  out_ += fmt::format("\n# TYPE {} {}\n", name, type);
}

void PrometheusText::Labels(PrometheusLabels labels) {
  if (labels.size() == 0) return;
  out_ += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += key;
    out_ += "=\"";
    AppendEscaped(out_, value, true);
    out_ += '"';
  }
  out_ += '}';
}

void PrometheusText::Sample(std::string_view name, PrometheusLabels labels, uint64_t value) {
  out_ += name;
  Labels(labels);
  out_ += fmt::format(" {}\n", value);
}

void PrometheusText::Sample(std::string_view name, PrometheusLabels labels, double value) {
  out_ += name;
  Labels(labels);
  out_ += fmt::format(" {}\n", value);
}

void PrometheusText::Single(std::string_view name, std::string_view type, std::string_view help,
                            uint64_t value) {
  Family(name, type, help);
  Sample(name, {}, value);
}

void PrometheusText::Histogram(std::string_view name,
                               std::pair<std::string_view, std::string_view> label,
                               std::span<const double> bounds, std::span<const uint64_t> counts,
                               double sum, uint64_t count) {
  const std::string bucket = fmt::format("{}_bucket", name);
  const bool labelled = !label.first.empty();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le = fmt::format("{}", bounds[i]);
    if (labelled) {
      Sample(bucket, {label, {"le", le}}, cumulative);
    } else {
      Sample(bucket, {{"le", le}}, cumulative);
    }
  }
  if (labelled) {
    Sample(bucket, {label, {"le", "+Inf"}}, count);
    Sample(fmt::format("{}_sum", name), {label}, sum);
    Sample(fmt::format("{}_count", name), {label}, count);
  } else {
    Sample(bucket, {{"le", "+Inf"}}, count);
    Sample(fmt::format("{}_sum", name), {}, sum);
    Sample(fmt::format("{}_count", name), {}, count);
  }
}

}  // namespace ferry
