// A recent rate from a growing byte count: what the web UI shows for a
// download, each of its peers, and each upload.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>

namespace ferry {

// Not thread-safe: its owner's lock guards it.
class RateMeter {
 public:
  using Clock = std::chrono::steady_clock;
  // Rates are measured over about this window.
  static constexpr std::chrono::seconds kWindow{2};

  // The count is `total` bytes at `now` (never less than before).
  void Record(int64_t total, Clock::time_point now) {
    if (samples_.empty() || now - samples_.back().first >= kSampleEvery) {
      samples_.emplace_back(now, total);
    } else {
      samples_.back().second = total;
    }
    while (samples_.size() > 2 && now - samples_[1].first > kWindow) samples_.pop_front();
  }
  // Bytes per second from the oldest sample in the window to the newest
  // count; 0 when nothing was recorded within the window before `now`.
  double Rate(Clock::time_point now) const {
    if (samples_.size() < 2 || now - samples_.back().first > kWindow) return 0;
    const auto& [from, first] = samples_.front();
    const double seconds = std::chrono::duration<double>(now - from).count();
    if (seconds < 0.05) return 0;
    return static_cast<double>(samples_.back().second - first) / seconds;
  }
  void Clear() { samples_.clear(); }

 private:
  static constexpr std::chrono::milliseconds kSampleEvery{100};
  std::deque<std::pair<Clock::time_point, int64_t>> samples_;
};

}  // namespace ferry
