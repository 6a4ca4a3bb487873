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

std::string HumanSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  auto whole = static_cast<int64_t>(std::min(seconds, 1e12));
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
}

Progress::Progress(std::string label, int64_t total, bool enabled, Kind kind)
    : label_(ForDisplay(label)),  // a remote path; names in a tree come from the server
      kind_(kind),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {}

void Progress::set_label(const std::string& label) { label_ = ForDisplay(label); }

void Progress::Update(int64_t done) {
  if (start_done_ < 0) start_done_ = done;
  done_ = done;
  if (observer_) observer_(done);
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(false, Elapsed());
}

void Progress::Finish() { Finish(std::chrono::milliseconds(std::llround(Elapsed() * 1000))); }

void Progress::Finish(std::chrono::milliseconds took) {
  if (!enabled_) return;
  Draw(true, static_cast<double>(took.count()) / 1000);
  std::fputc('\n', out_);
  std::fflush(out_);
  enabled_ = false;
}

double Progress::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Draw(bool final, double seconds) {
  // `done_` and `total_` come from the server: whatever they are, the bar stays
  // within its width and no conversion leaves the range of its type.
  double moved = std::max(
      static_cast<double>(done_) - static_cast<double>(std::max<int64_t>(start_done_, 0)), 0.0);
  double rate = seconds > 0 ? moved / seconds : 0;
  double fraction = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  constexpr int kWidth = 24;
  int filled = std::clamp(static_cast<int>(fraction * kWidth), 0, kWidth);
  std::string bar = std::string(static_cast<size_t>(filled), '#') +
                    std::string(static_cast<size_t>(kWidth - filled), '.');
  std::string label = label_.size() > 28 ? "..." + label_.substr(label_.size() - 25) : label_;
  std::string line =
      total_ < 0 ? fmt::format("{:<28} {:>10}", label, HumanBytes(static_cast<double>(done_)))
                 : fmt::format("{:<28} [{}] {:3.0f}% {:>10}", label, bar, fraction * 100,
                               HumanBytes(static_cast<double>(done_)));
  if (final) {
    // Only this run's bytes make the rate: a resumed transfer says how many
    // it moved rather than crediting this run with what was already there.
    if (kind_ == Kind::kTransfer && start_done_ > 0) {
      line += fmt::format(" ({} this run)", HumanBytes(moved));
    }
    line += fmt::format(" in {}", HumanSeconds(seconds));
    if (kind_ == Kind::kTransfer) line += fmt::format(", {}/s", HumanBytes(rate));
  } else {
    std::string eta = total_ < 0 ? "" : "--:--";
    if (rate > 0 && total_ >= 0) {
      double left = std::max(static_cast<double>(total_) - static_cast<double>(done_), 0.0) / rate;
      constexpr double kLongestEta = 100.0 * 24 * 3600;  // beyond, an ETA says nothing
      if (std::isfinite(left) && left < kLongestEta) {
        int64_t whole = static_cast<int64_t>(left);
        eta = fmt::format("{:02}:{:02}", whole / 60, whole % 60);
      }
    }
    if (kind_ == Kind::kTransfer) line += fmt::format(" {:>10}/s", HumanBytes(rate));
    if (!eta.empty()) line += " " + eta;
  }
  if (!note_.empty()) line += " " + note_;
  size_t width = line.size();
  line.append(drawn_width_ > width ? drawn_width_ - width : 0, ' ');  // cover the longer line
  drawn_width_ = width;
  std::fprintf(out_, "\r%s", line.c_str());
  std::fflush(out_);
}

TreeProgress::TreeProgress(std::unique_ptr<Progress> bar, std::string root, int64_t files)
    : bar_(bar ? std::move(bar) : std::make_unique<Progress>()),
      root_(std::move(root)),
      files_(files) {
  Note();
  bar_->Update(0);
}

void TreeProgress::Begin(const std::string& name) { bar_->set_label(name); }

void TreeProgress::Moved(int64_t done) { bar_->Update(bytes_before_ + done); }

void TreeProgress::FileDone(int64_t size) {
  bytes_before_ += size;
  files_done_++;
  Note();
  bar_->Update(bytes_before_);
}

std::unique_ptr<Progress> TreeProgress::FileBar() {
  auto file = std::make_unique<Progress>();
  file->set_observer([this](int64_t done) { Moved(done); });
  return file;
}

void TreeProgress::Finish() {
  bar_->set_label(root_);
  bar_->Finish();
}

void TreeProgress::Note() { bar_->set_note(fmt::format("{}/{} files", files_done_, files_)); }

}  // namespace ferry
