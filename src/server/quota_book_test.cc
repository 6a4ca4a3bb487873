#include "server/quota_book.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

struct World {
  std::optional<int64_t> quota = 1000;
  int64_t home = 0;
  int64_t partial = 0;
  int walks = 0;
  std::chrono::steady_clock::time_point now{};
  QuotaBook Book() {
    return QuotaBook([this](const std::string&) -> Result<std::optional<int64_t>> { return quota; },
                     [this](const std::string&) -> Result<int64_t> {
                       walks++;
                       return home;
                     },
                     [this](const std::string&) { return partial; }, [this] { return now; }, 60s);
  }
};

TEST(QuotaBookTest, RefusesWhatWouldExceedTheQuota) {
  World w;
  w.home = 600;
  w.partial = 100;
  QuotaBook book = w.Book();
  EXPECT_EQ(**book.Remaining("alice"), 300);
  EXPECT_TRUE(book.CheckRoom("alice", 300).ok());
  Status refused = book.CheckRoom("alice", 301);
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_NE(refused.message().find("quota of 1000 B"), std::string::npos) << refused.message();
  w.quota = std::nullopt;
  EXPECT_TRUE(book.CheckRoom("alice", int64_t{1} << 50).ok());
  EXPECT_FALSE(book.Remaining("alice")->has_value());
}

TEST(QuotaBookTest, WalksOnceThenFollowsAdjustmentsUntilStale) {
  World w;
  w.home = 500;
  QuotaBook book = w.Book();
  EXPECT_EQ(**book.Remaining("alice"), 500);
  book.Adjust("alice", 200);  // an upload finished
  EXPECT_EQ(**book.Remaining("alice"), 300);
  book.Adjust("alice", -100);  // a file removed
  EXPECT_EQ(**book.Remaining("alice"), 400);
  EXPECT_EQ(w.walks, 1);
  w.home = 900;  // a job wrote into the home
  book.Forget("alice");
  EXPECT_EQ(**book.Remaining("alice"), 100);
  EXPECT_EQ(w.walks, 2);
  w.home = 950;
  w.now += 61s;
  EXPECT_EQ(**book.Remaining("alice"), 50);
  EXPECT_EQ(w.walks, 3);
  w.home = 2000;
  w.now += 1s;
  EXPECT_EQ(**book.Remaining("alice"), 50);  // remembered
  book.Forget("alice");
  EXPECT_EQ(**book.Remaining("alice"), 0);  // over the quota: nothing remains
}

}  // namespace
}  // namespace ferry
