// A one-line progress bar (bytes, rate, ETA), drawn only when enabled (the CLI
// enables it when stdout is a terminal). Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ferry {

class Progress {
 public:
  // What the bar follows: bytes this process moves (a transfer: it shows a
  // rate), or work done elsewhere, such as a job on the server (no rate).
  enum class Kind { kTransfer, kWork };

  Progress() = default;  // disabled
  // A negative `total` is not known (a pipe): the bar shows bytes and rate only.
  Progress(std::string label, int64_t total, bool enabled, Kind kind = Kind::kTransfer);

  // Where the bar is drawn: stdout unless set (stderr when stdout carries data).
  void set_output(std::FILE* out) { out_ = out; }
  // Bytes done so far (absolute, so resumed transfers start where they were).
  // The first call says where this run started: the rate and the summary
  // count only the bytes after it.
  void Update(int64_t done);
  // Text drawn after the ETA, such as "3 peers".
  void set_note(std::string note) { note_ = std::move(note); }
  // Ends the bar with its summary line. A transfer's: the bytes, and the time
  // and rate of this run's bytes ("19.1 MiB (7.1 MiB this run) in 3.5s,
  // 2.0 MiB/s"); a work bar's: the bytes and the time since the bar began.
  void Finish();
  // Ends a work bar whose work took `took` (known better elsewhere, such as
  // from a job's start and end times on the server).
  void Finish(std::chrono::milliseconds took);

 private:
  void Draw(bool final, double seconds);
  double Elapsed() const;

  std::string label_;
  std::string note_;
  Kind kind_ = Kind::kTransfer;
  int64_t total_ = 0;
  int64_t done_ = 0;
  int64_t start_done_ = -1;
  bool enabled_ = false;
  std::FILE* out_ = stdout;
  size_t drawn_width_ = 0;  // of the line on screen, which a shorter one must cover
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.5 MiB", "734 B".
std::string HumanBytes(double bytes);
// A duration for people: "0.4s", "59.9s", "2m05s", "3h07m".
std::string HumanSeconds(double seconds);

}  // namespace ferry
