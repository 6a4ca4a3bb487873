#include "client/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "core/display_text.h"

namespace ferry {

std::string HumanBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    unit++;
  }
  return unit == 0 ? fmt::format("{:.0f} {}", bytes, kUnits[unit])
                   : fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(ForDisplay(label)),  // a remote path; names in a tree come from the server
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {}

void Progress::Update(int64_t done) {
  if (start_done_ < 0) start_done_ = done;
  done_ = done;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(false);
}

void Progress::Finish() {
  if (!enabled_) return;
  Draw(true);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  enabled_ = false;
}

void Progress::Draw(bool final) {
  // `done_` and `total_` come from the server: whatever they are, the bar stays
  // within its width and no conversion leaves the range of its type.
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double moved =
      static_cast<double>(done_) - static_cast<double>(std::max<int64_t>(start_done_, 0));
  double rate = seconds > 0 ? std::max(moved, 0.0) / seconds : 0;
  double fraction = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  constexpr int kWidth = 24;
  int filled = std::clamp(static_cast<int>(fraction * kWidth), 0, kWidth);
  std::string bar = std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(kWidth - filled), '.');
  std::string eta = "--:--";
  if (final) {
    eta = fmt::format("{:.1f}s", seconds);
  } else if (rate > 0) {
    double left = std::max(static_cast<double>(total_) - static_cast<double>(done_), 0.0) / rate;
    constexpr double kLongestEta = 100.0 * 24 * 3600;  // beyond, an ETA says nothing
    if (std::isfinite(left) && left < kLongestEta) {
      int64_t whole = static_cast<int64_t>(left);
      eta = fmt::format("{:02}:{:02}", whole / 60, whole % 60);
    }
  }
  std::string label = label_.size() > 28 ? "..." + label_.substr(label_.size() - 25) : label_;
  std::fprintf(stdout, "\r%-28s [%s] %3.0f%% %10s %10s/s %s %s   ", label.c_str(), bar.c_str(),
               fraction * 100, HumanBytes(static_cast<double>(done_)).c_str(),
               HumanBytes(rate).c_str(), eta.c_str(), note_.c_str());
  std::fflush(stdout);
}

}  // namespace ferry
