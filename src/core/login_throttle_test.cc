#include "core/login_throttle.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

class LoginThrottleTest : public ::testing::Test {
 protected:
  std::chrono::steady_clock::time_point now_{};
  LoginThrottle throttle_{ThrottlePolicy{3, 1000ms, 8000ms, 900s}, [this] { return now_; }};
};

TEST_F(LoginThrottleTest, FirstFailuresAreFreeThenDelaysGrow) {
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(throttle_.Begin("bob", "1.2.3.4").ok());
    throttle_.Failed("bob", "1.2.3.4");
  }
  EXPECT_TRUE(throttle_.Begin("bob", "1.2.3.4").ok());
  throttle_.Failed("bob", "1.2.3.4");  // third: the delay starts
  auto s = throttle_.Begin("bob", "1.2.3.4");
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_NE(s.message().find("wait 1 s"), std::string::npos) << s.message();
  now_ += 1001ms;
  EXPECT_TRUE(throttle_.Begin("bob", "1.2.3.4").ok());
  throttle_.Failed("bob", "1.2.3.4");  // fourth: 2 s
  now_ += 1500ms;
  EXPECT_FALSE(throttle_.Begin("bob", "1.2.3.4").ok());
  now_ += 600ms;
  EXPECT_TRUE(throttle_.Begin("bob", "1.2.3.4").ok());
}

TEST_F(LoginThrottleTest, DelayIsCapped) {
  for (int i = 0; i < 30; ++i) throttle_.Failed("bob", "a");
  now_ += 8001ms;
  EXPECT_TRUE(throttle_.Begin("bob", "a").ok());
}

TEST_F(LoginThrottleTest, AddressIsThrottledAcrossUserNames) {
  throttle_.Failed("u1", "9.9.9.9");
  throttle_.Failed("u2", "9.9.9.9");
  throttle_.Failed("u3", "9.9.9.9");
  auto s = throttle_.Begin("u4", "9.9.9.9");
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_NE(s.message().find("from 9.9.9.9"), std::string::npos);
  EXPECT_TRUE(throttle_.Begin("u4", "8.8.8.8").ok());
}

TEST_F(LoginThrottleTest, FailuresFromOneSourceDoNotLockOutAnother) {
  for (int i = 0; i < 6; ++i) {
    now_ += 9s;
    if (throttle_.Begin("alice", "10.0.0.66").ok()) throttle_.Failed("alice", "10.0.0.66");
  }
  EXPECT_FALSE(throttle_.Begin("alice", "10.0.0.66").ok());
  ASSERT_TRUE(throttle_.Begin("alice", "10.0.0.7").ok());
  throttle_.Succeeded("alice", "10.0.0.7");
}

// Row 8 of issue 17: wrong passwords for alice from changing addresses, a few
// a minute, once locked alice out everywhere.
TEST_F(LoginThrottleTest, DistributedGuessingCannotLockOutTheUser) {
  int refused_owner = 0, attacker_guesses = 0;
  for (int minute = 0; minute < 30; ++minute) {
    for (int k = 0; k < 4; ++k) {
      now_ += 15s;
      std::string attacker = "203.0.113." + std::to_string((minute * 4 + k) % 200);
      if (throttle_.Begin("alice", attacker).ok()) {
        throttle_.Failed("alice", attacker);
        attacker_guesses++;
      }
    }
    if (throttle_.Begin("alice", "198.51.100.1").ok()) {
      throttle_.Succeeded("alice", "198.51.100.1");
    } else {
      refused_owner++;
    }
  }
  EXPECT_EQ(refused_owner, 0);
  EXPECT_EQ(attacker_guesses, 120);
}

TEST_F(LoginThrottleTest, AnAttackedUserDelaysEachNewFailingSourceAtOnce) {
  for (int i = 0; i < 10; ++i) {
    std::string source = "192.0.2." + std::to_string(i);
    ASSERT_TRUE(throttle_.Begin("alice", source).ok());
    throttle_.Failed("alice", source);
  }
  // alice has 10 failures now: a new source gets one guess, then waits.
  ASSERT_TRUE(throttle_.Begin("alice", "192.0.2.100").ok());
  EXPECT_FALSE(throttle_.Begin("alice", "192.0.2.100").ok()) << "one attempt in progress";
  throttle_.Failed("alice", "192.0.2.100");
  auto s = throttle_.Begin("alice", "192.0.2.100");
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_NE(s.message().find("wait 1 s"), std::string::npos) << s.message();
  // Another user's guesses from a fresh source are not affected.
  EXPECT_TRUE(throttle_.Begin("bob", "192.0.2.101").ok());
  throttle_.Failed("bob", "192.0.2.101");
  EXPECT_TRUE(throttle_.Begin("bob", "192.0.2.101").ok());
  // A source that has not failed still gets its password checked.
  EXPECT_TRUE(throttle_.Begin("alice", "198.51.100.1").ok());
}

TEST_F(LoginThrottleTest, ManySourcesAndNamesStayBounded) {
  LoginThrottle small(ThrottlePolicy{3, 1000ms, 8000ms, 900s, 10, 100}, [this] { return now_; });
  for (int i = 0; i < 10'000; ++i) {
    now_ += 1ms;
    std::string source = fmt::format("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
    std::string user = "user" + std::to_string(i);
    if (small.Begin(user, source).ok()) small.Failed(user, source);
    ASSERT_LE(small.tracked_sources(), 100u);
    ASSERT_LE(small.tracked_users(), 100u);
  }
  // The newest source is remembered: two more failures make its third.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(small.Begin("x", "10.0.39.15").ok());
    small.Failed("x", "10.0.39.15");
  }
  EXPECT_FALSE(small.Begin("x", "10.0.39.15").ok());
}

TEST(ThrottleSourceTest, GroupsIpv6By64AndUnmapsIpv4) {
  EXPECT_EQ(ThrottleSource("1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(ThrottleSource("::ffff:1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(ThrottleSource("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(ThrottleSource("2001:db8:1:2::9"), ThrottleSource("2001:db8:1:2:ffff::1"));
  EXPECT_NE(ThrottleSource("2001:db8:1:2::9"), ThrottleSource("2001:db8:1:3::9"));
  EXPECT_EQ(ThrottleSource("unix:/tmp/sock"), "unix:/tmp/sock");
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

TEST_F(LoginThrottleTest, ParallelAttemptsCannotOutrunTheCount) {
  // Three attempts may be in flight at once; a fourth waits for their verdicts.
  ASSERT_TRUE(throttle_.Begin("eve", "6.6.6.6").ok());
  ASSERT_TRUE(throttle_.Begin("eve", "6.6.6.6").ok());
  ASSERT_TRUE(throttle_.Begin("eve", "6.6.6.6").ok());
  auto fourth = throttle_.Begin("eve", "6.6.6.6");
  EXPECT_EQ(fourth.code(), Code::kResourceExhausted);
  EXPECT_NE(fourth.message().find("still being checked"), std::string::npos);
  for (int i = 0; i < 3; ++i) throttle_.Failed("eve", "6.6.6.6");
  // Past the free attempts, one at a time, each after its delay.
  now_ += 1001ms;
  ASSERT_TRUE(throttle_.Begin("eve", "6.6.6.6").ok());
  EXPECT_FALSE(throttle_.Begin("eve", "6.6.6.6").ok());
}

}  // namespace
}  // namespace ferry
