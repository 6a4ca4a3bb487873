#include "core/login_throttle.h"

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

TEST_F(LoginThrottleTest, SuccessClearsTheUser) {
  for (int i = 0; i < 3; ++i) throttle_.Failed("bob", "a");
  now_ += 1001ms;
  throttle_.Succeeded("bob", "a");
  EXPECT_EQ(throttle_.Failed("bob", "b"), 1);
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
