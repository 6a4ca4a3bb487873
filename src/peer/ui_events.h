// The web UI's live feed: Server-Sent Events pushed to every open page
// (docs/peer-ui.md, "GET /api/v1/events"). A page subscribes once and gets
// a snapshot first, then each change as it happens; nothing is polled.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// "event: NAME\ndata: DATA\n\n"; DATA must hold no newline (JSON dumped
// without indentation holds none).
std::string SseEvent(std::string_view name, std::string_view data);

// Thread-safe.
class UiEvents {
 public:
  // Sends text to one page; false once the page is gone (it is then dropped).
  using Sink = std::function<bool(const std::string&)>;

  // Adds a page. `first()` makes its first event, under the same lock that
  // orders every Publish, so the page misses no change made after it.
  void Subscribe(Sink sink, const std::function<std::string()>& first);
  // Sends one event to every page.
  void Publish(std::string_view name, std::string_view data);
  // Sends a comment that keeps idle connections open, and drops pages gone.
  void KeepAlive();
  size_t pages() const;

 private:
  void SendLocked(const std::string& text);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::vector<Sink> sinks_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
