// A one-line progress bar (bytes, rate, ETA), drawn only when enabled (the CLI
// enables it when stdout is a terminal). Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
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
  // What the bar is about (a file's name); shown escaped and shortened.
  void set_label(const std::string& label);
  // Also told every Update's `done`, drawn or not (TreeProgress follows the
  // bar of each file of a tree so).
  void set_observer(std::function<void(int64_t done)> observer) { observer_ = std::move(observer); }
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
  std::function<void(int64_t)> observer_;
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

// One bar for a whole tree: bytes of all its files, rate and ETA, the file
// under way as the label, and "files done/total" as the note. Not thread-safe.
class TreeProgress {
 public:
  // `bar` (made for the tree's total bytes, or null: nothing is drawn) is
  // the bar drawn; `files` is how many files the tree sends.
  TreeProgress(std::unique_ptr<Progress> bar, std::string root, int64_t files);
  // A file begins: its name becomes the label.
  void Begin(const std::string& name);
  // The file under way has moved `done` bytes in all.
  void Moved(int64_t done);
  // The file under way is done; it held `size` bytes.
  void FileDone(int64_t size);
  // A disabled Progress for one file of the tree whose updates move this bar.
  std::unique_ptr<Progress> FileBar();
  // Ends the bar with its summary line, labelled with the tree's root.
  void Finish();

 private:
  void Note();

  std::unique_ptr<Progress> bar_;
  std::string root_;
  int64_t files_ = 0;
  int64_t files_done_ = 0;
  int64_t bytes_before_ = 0;  // of the files done
};

// "1.5 MiB", "734 B".
std::string HumanBytes(double bytes);
// A duration for people: "0.4s", "59.9s", "2m05s", "3h07m".
std::string HumanSeconds(double seconds);

}  // namespace ferry
