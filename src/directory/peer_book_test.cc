#include "directory/peer_book.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry {
namespace {

PeerMap Read(std::initializer_list<std::pair<std::string, int64_t>> seen) {
  PeerMap out;
  for (const auto& [id, t] : seen) out.emplace(id, BookedPeer{"10.0.0.1:" + id, "cert-" + id, t});
  return out;
}

// Looks `ids` up under one Reader: "found" ids, then "|", then the others.
std::string Look(const PeerBook& book, const std::vector<std::string>& ids, int64_t online_since) {
  std::string found, unknown;
  const auto reader = book.Read();
  for (const auto& id : ids) {
    if (reader.Find(id, online_since) != nullptr) {
      found += id + " ";
    } else {
      unknown += " " + id;
    }
  }
  return found + "|" + unknown;
}

TEST(PeerBookTest, FindsWhatWasFilledWhileSeenRecentlyEnough) {
  PeerBook book;
  book.Enable();
  book.Fill(Read({{"a", 100}, {"b", 50}}), book.generation());
  EXPECT_EQ(Look(book, {"a", "b", "c"}, 60), "a | b c");
  EXPECT_EQ(Look(book, {"a", "b"}, 40), "a b |");
  auto a = book.Find("a", 0);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->address, "10.0.0.1:a");
  EXPECT_EQ(a->cert_sha256, "cert-a");
  EXPECT_EQ(a->last_seen, 100);
  EXPECT_FALSE(book.Find("b", 60).has_value());
  EXPECT_EQ(book.size(), 2u);
}

TEST(PeerBookTest, OffKeepsNothing) {
  PeerBook book;  // off until enabled
  book.Fill(Read({{"a", 100}}), book.generation());
  EXPECT_EQ(Look(book, {"a"}, 0), "| a");
  book.Enable();
  book.Fill(Read({{"a", 100}}), book.generation());
  EXPECT_EQ(Look(book, {"a"}, 0), "a |");
  book.Disable();
  EXPECT_EQ(Look(book, {"a"}, 0), "| a");
  book.Fill(Read({{"a", 100}}), book.generation());
  EXPECT_EQ(book.size(), 0u);
}

// A row read before a change was forgotten must not come back after it.
TEST(PeerBookTest, RowsReadBeforeAForgetAreRefused) {
  PeerBook book;
  book.Enable();
  const auto before = book.generation();
  book.Forget("a");  // the change's notice arrives while the old row is read
  book.Fill(Read({{"a", 100}}), before);
  EXPECT_EQ(Look(book, {"a"}, 0), "| a");
  book.Fill(Read({{"a", 100}}), book.generation());
  EXPECT_EQ(Look(book, {"a"}, 0), "a |");
  book.Forget("a");
  EXPECT_EQ(Look(book, {"a"}, 0), "| a");
  // Enable() starts afresh too: rows read before it are refused.
  const auto old = book.generation();
  book.Enable();
  book.Fill(Read({{"a", 100}}), old);
  EXPECT_EQ(book.size(), 0u);
}

TEST(PeerBookTest, LastSeenOnlyGrows) {
  PeerBook book;
  book.Enable();
  book.Fill(Read({{"a", 100}}), book.generation());
  book.Touch("a", 90);
  EXPECT_EQ(Look(book, {"a"}, 100), "a |");
  book.Touch("a", 200);
  EXPECT_EQ(Look(book, {"a"}, 200), "a |");
  // A read that saw an older time (it began before the heartbeat) keeps the later one.
  book.Fill(Read({{"a", 150}}), book.generation());
  EXPECT_EQ(Look(book, {"a"}, 200), "a |");
  book.Touch("unknown", 300);  // stays unknown: there is no address to go with it
  EXPECT_EQ(Look(book, {"unknown"}, 0), "| unknown");
}

TEST(PeerBookTest, PruneDropsPeersSeenBeforeATime) {
  PeerBook book;
  book.Enable();
  book.Fill(Read({{"a", 100}, {"b", 200}, {"c", 300}}), book.generation());
  book.Prune(200);
  EXPECT_EQ(book.size(), 2u);
  EXPECT_EQ(Look(book, {"a", "b", "c"}, 0), "b c | a");
}

}  // namespace
}  // namespace ferry
