#include "directory/address_rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace ferry {
namespace {

using namespace std::chrono_literals;

class AddressRateLimiterTest : public ::testing::Test {
 protected:
  SteadyClock Clock() {
    return [this] { return now_; };
  }
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
};

TEST_F(AddressRateLimiterTest, ABurstThenOneATimeAsTokensComeBack) {
  AddressRateLimiter limiter(6, 100, Clock());  // one token every 10 s
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(limiter.Take("10.0.0.1", "register").ok()) << i;
  Status refused = limiter.Take("10.0.0.1", "register");
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_NE(refused.message().find("too many register requests from 10.0.0.1; wait 10 s"),
            std::string::npos)
      << refused.message();
  // Another address has its own bucket.
  EXPECT_TRUE(limiter.Take("10.0.0.2", "register").ok());
  now_ += 5s;
  EXPECT_NE(limiter.Take("10.0.0.1", "register").message().find("wait 5 s"), std::string::npos);
  now_ += 5s;
  EXPECT_TRUE(limiter.Take("10.0.0.1", "register").ok());
  EXPECT_FALSE(limiter.Take("10.0.0.1", "register").ok());
}

TEST_F(AddressRateLimiterTest, ZeroPerMinuteIsNoLimit) {
  AddressRateLimiter limiter(0, 1, Clock());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Take("10.0.0.1", "login").ok());
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST_F(AddressRateLimiterTest, Ipv6AddressesShareABucketPer64) {
  EXPECT_EQ(RateLimitKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(RateLimitKey("127.0.0.1"), "127.0.0.1");
  AddressRateLimiter limiter(2, 100, Clock());
  EXPECT_TRUE(limiter.Take("2001:db8:1:2::1", "login").ok());
  EXPECT_TRUE(limiter.Take("2001:db8:1:2::2", "login").ok());
  EXPECT_FALSE(limiter.Take("2001:db8:1:2:ffff::3", "login").ok());
  EXPECT_TRUE(limiter.Take("2001:db8:1:3::1", "login").ok());
}

TEST_F(AddressRateLimiterTest, TheTableStaysBoundedAndOverflowSharesOneBucket) {
  AddressRateLimiter limiter(2, 4, Clock());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(limiter.Take("10.0.0." + std::to_string(i), "register").ok());
  }
  // Full: every other address shares one bucket of 2.
  EXPECT_TRUE(limiter.Take("10.0.1.1", "register").ok());
  EXPECT_TRUE(limiter.Take("10.0.1.2", "register").ok());
  EXPECT_FALSE(limiter.Take("10.0.1.3", "register").ok());
  EXPECT_EQ(limiter.tracked(), 4u);
  // Once their buckets are full again, the old entries make room.
  now_ += 61s;
  EXPECT_TRUE(limiter.Take("10.0.2.1", "register").ok());
  EXPECT_EQ(limiter.tracked(), 1u);
}

}  // namespace
}  // namespace ferry
