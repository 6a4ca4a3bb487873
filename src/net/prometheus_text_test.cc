#include "net/prometheus_text.h"

#include <array>

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(PrometheusTextTest, FamiliesHaveHelpAndTypeAndLabelValuesAreEscaped) {
  PrometheusText out;
  out.Family("ferry_x_total", "counter", "Things, with a \\ and a\nline.");
  out.Sample("ferry_x_total", {{"kind", "a\"b\\c\nd"}, {"code", "OK"}}, uint64_t{3});
  out.Single("ferry_y", "gauge", "One.", 18446744073709551615u);
  EXPECT_EQ(out.text(),
            "# HELP ferry_x_total Things, with a \\\\ and a\\nline.\n"
            "# TYPE ferry_x_total counter\n"
            "ferry_x_total{kind=\"a\\\"b\\\\c\\nd\",code=\"OK\"} 3\n"
            "# HELP ferry_y One.\n"
            "# TYPE ferry_y gauge\n"
            "ferry_y 18446744073709551615\n");
}

TEST(PrometheusTextTest, HistogramBucketsAreCumulative) {
  PrometheusText out;
  constexpr std::array<double, 3> kBounds = {0.5, 1, 2.5};
  const std::array<uint64_t, 3> counts = {1, 0, 2};
  out.Histogram("ferry_t_seconds", {"direction", "up"}, kBounds, counts, 4.25, 4);
  out.Histogram("ferry_u_seconds", {"", ""}, kBounds, counts, 1.5, 3);
  EXPECT_EQ(out.text(),
            "ferry_t_seconds_bucket{direction=\"up\",le=\"0.5\"} 1\n"
            "ferry_t_seconds_bucket{direction=\"up\",le=\"1\"} 1\n"
            "ferry_t_seconds_bucket{direction=\"up\",le=\"2.5\"} 3\n"
            "ferry_t_seconds_bucket{direction=\"up\",le=\"+Inf\"} 4\n"
            "ferry_t_seconds_sum{direction=\"up\"} 4.25\n"
            "ferry_t_seconds_count{direction=\"up\"} 4\n"
            "ferry_u_seconds_bucket{le=\"0.5\"} 1\n"
            "ferry_u_seconds_bucket{le=\"1\"} 1\n"
            "ferry_u_seconds_bucket{le=\"2.5\"} 3\n"
            "ferry_u_seconds_bucket{le=\"+Inf\"} 3\n"
            "ferry_u_seconds_sum 1.5\n"
            "ferry_u_seconds_count 3\n");
}

}  // namespace
}  // namespace ferry
