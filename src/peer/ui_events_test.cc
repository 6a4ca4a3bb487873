// The live feed: a page gets its first event, then every event, in order,
// and is dropped once it is gone.
#include "peer/ui_events.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(UiEventsTest, FirstEventThenEveryEventInOrderUntilThePageIsGone) {
  UiEvents events;
  std::vector<std::string> got;
  bool open = true;
  events.Publish("download", "{\"early\":1}");  // before the page: not sent to it
  events.Subscribe(
      [&](const std::string& text) {
        if (!open) return false;
        got.push_back(text);
        return true;
      },
      [] { return SseEvent("snapshot", "{}"); });
  events.Publish("download", "{\"a\":1}");
  events.KeepAlive();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "event: snapshot\ndata: {}\n\n");
  EXPECT_EQ(got[1], "event: download\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(got[2], ": keep-alive\n\n");
  EXPECT_EQ(events.pages(), 1u);
  open = false;
  events.Publish("download", "{\"b\":1}");
  EXPECT_EQ(events.pages(), 0u);
  EXPECT_EQ(got.size(), 3u);
}

TEST(UiEventsTest, APageGoneBeforeItsFirstEventIsNotKept) {
  UiEvents events;
  events.Subscribe([](const std::string&) { return false; }, [] { return std::string("x"); });
  EXPECT_EQ(events.pages(), 0u);
}

}  // namespace
}  // namespace ferry
