#include "peer/ui_events.h"

#include <utility>

namespace ferry {

std::string SseEvent(std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(name.size() + data.size() + 16);
  out += "event: ";
  out += name;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

void UiEvents::Subscribe(Sink sink, const std::function<std::string()>& first) {
  std::lock_guard lock(mu_);
  if (sink(first())) sinks_.push_back(std::move(sink));
}

void UiEvents::Publish(std::string_view name, std::string_view data) {
  const std::string text = SseEvent(name, data);
  std::lock_guard lock(mu_);
  SendLocked(text);
}

void UiEvents::KeepAlive() {
  std::lock_guard lock(mu_);
  SendLocked(": keep-alive\n\n");
}

size_t UiEvents::pages() const {
  std::lock_guard lock(mu_);
  return sinks_.size();
}

void UiEvents::SendLocked(const std::string& text) {
  std::erase_if(sinks_, [&](const Sink& sink) { return !sink(text); });
}

}  // namespace ferry
