#include "net/http_stream.h"

#include <utility>

namespace ferry {

HttpStream::HttpStream(size_t max_queued) : max_queued_(max_queued) {}

bool HttpStream::Write(std::string data) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  // queued_ never holds more than max_queued_, so this cannot wrap.
  if (data.size() > max_queued_ - queued_.size()) {
    DropLocked();
    return false;
  }
  if (data.empty()) return true;
  if (queued_.empty()) {
    queued_ = std::move(data);
  } else {
    queued_ += data;
  }
  if (wake_ && !wake_pending_) {
    wake_pending_ = true;
    wake_(false);
  }
  return true;
}

void HttpStream::Close() {
  std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  if (wake_ && !wake_pending_) {
    wake_pending_ = true;
    wake_(false);
  }
}

bool HttpStream::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void HttpStream::Attach(std::function<void(bool dropped)> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
  wake_pending_ = false;
}

HttpStream::Taken HttpStream::Take() {
  std::lock_guard lock(mu_);
  wake_pending_ = false;
  Taken taken;
  if (dropped_) {
    taken.ended = taken.dropped = true;
    return taken;
  }
  taken.data.swap(queued_);
  taken.ended = closed_;
  return taken;
}

void HttpStream::Drop() {
  std::lock_guard lock(mu_);
  DropLocked();
}

void HttpStream::Detach() {
  std::lock_guard lock(mu_);
  wake_ = nullptr;
  DropLocked();
}

void HttpStream::DropLocked() {
  const bool was_dropped = dropped_;
  closed_ = dropped_ = true;
  std::string().swap(queued_);
  if (wake_ && !was_dropped) wake_(true);
}

}  // namespace ferry
