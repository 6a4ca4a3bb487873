// A one-line progress bar (bytes, rate, ETA), drawn only when enabled (the CLI
// enables it when stdout is a terminal). Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ferry {

class Progress {
 public:
  Progress() = default;  // disabled
  Progress(std::string label, int64_t total, bool enabled);

  // Bytes done so far (absolute, so resumed transfers start where they were).
  void Update(int64_t done);
  // Text drawn after the ETA, such as "3 peers".
  void set_note(std::string note) { note_ = std::move(note); }
  void Finish();

 private:
  void Draw(bool final);

  std::string label_;
  std::string note_;
  int64_t total_ = 0;
  int64_t done_ = 0;
  int64_t start_done_ = -1;
  bool enabled_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.5 MiB", "734 B".
std::string HumanBytes(double bytes);

}  // namespace ferry
