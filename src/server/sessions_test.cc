#include "server/sessions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  SteadyClock fn() {
    return [this] { return now; };
  }
};

TEST(SessionTableTest, TokensWorkUntilLogout) {
  FakeClock clock;
  SessionTable t({4, 10s, 1h}, clock.fn());
  auto token = t.Create("alice");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->size(), 64u);
  {
    auto call = t.Begin(*token);
    ASSERT_TRUE(call.ok());
    EXPECT_EQ(call->user(), "alice");
  }
  EXPECT_EQ(t.Begin("wrong").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(t.Begin("").status().code(), Code::kUnauthenticated);
  EXPECT_TRUE(t.Remove(*token));
  EXPECT_EQ(t.Begin(*token).status().code(), Code::kUnauthenticated);
}

TEST(SessionTableTest, CapsClientsAndFreesSlotsOfExpiredSessions) {
  FakeClock clock;
  SessionTable t({2, 10s, 1h}, clock.fn());
  ASSERT_TRUE(t.Create("a").ok());
  ASSERT_TRUE(t.Create("b").ok());
  auto third = t.Create("c");
  EXPECT_EQ(third.status().code(), Code::kResourceExhausted);
  EXPECT_NE(third.status().message().find("full"), std::string::npos);
  clock.now += 11s;
  EXPECT_TRUE(t.Create("c").ok());
}

TEST(SessionTableTest, OneUserCannotFillTheServer) {
  FakeClock clock;
  SessionLimits limits{64, 10s, 1h};
  limits.max_sessions_per_user = 3;
  SessionTable t(limits, clock.fn());
  std::vector<std::string> mallory;
  for (int i = 0; i < 3; ++i) mallory.push_back(*t.Create("mallory"));
  auto fourth = t.Create("mallory");
  EXPECT_EQ(fourth.status().code(), Code::kResourceExhausted);
  EXPECT_NE(fourth.status().message().find("you have 3 sessions open"), std::string::npos)
      << fourth.status().message();
  EXPECT_TRUE(t.Create("alice").ok());
  // Logging out, and expiring, give the user's slots back.
  EXPECT_TRUE(t.Remove(mallory[0]));
  EXPECT_TRUE(t.Create("mallory").ok());
  EXPECT_EQ(t.Create("mallory").status().code(), Code::kResourceExhausted);
  clock.now += 11s;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(t.Create("mallory").ok());
}

TEST(SessionTableTest, IdleSessionsExpireButBusyOnesDoNot) {
  FakeClock clock;
  SessionTable t({4, 10s, 1h}, clock.fn());
  auto idle = *t.Create("idle");
  auto busy = *t.Create("busy");
  auto call = t.Begin(busy);
  ASSERT_TRUE(call.ok());
  clock.now += 30s;  // a long transfer on `busy`
  t.Sweep();         // the housekeeper got there first: the reason is still given
  auto s = t.Begin(idle).status();
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("without activity"), std::string::npos);
  EXPECT_TRUE(t.Begin(busy).ok());
}

TEST(SessionTableTest, LifetimeBoundsEvenBusySessions) {
  FakeClock clock;
  SessionTable t({4, 10s, 60s}, clock.fn());
  auto token = *t.Create("u");
  auto call = t.Begin(token);
  clock.now += 61s;
  EXPECT_EQ(t.Begin(token).status().code(), Code::kUnauthenticated);
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

TEST(SessionTableTest, CapsCallsInProgressPerSession) {
  FakeClock clock;
  SessionTable t({4, 10s, 1h, 2, 5s}, clock.fn());
  auto token = *t.Create("u");
  auto a = t.Begin(token);
  auto b = t.Begin(token);
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = t.Begin(token);
  EXPECT_EQ(c.status().code(), Code::kResourceExhausted);
  { auto done = std::move(a).value(); }
  EXPECT_TRUE(t.Begin(token).ok());
}

TEST(SessionTableTest, StalledStreamsAreCancelledButProgressingOnesAreNot) {
  FakeClock clock;
  SessionTable t({4, 10s, 1h, 4, 5s}, clock.fn());
  auto token = *t.Create("u");
  int stalled_cancels = 0, moving_cancels = 0;
  auto stalled = t.Begin(token, [&] { stalled_cancels++; });
  auto moving = t.Begin(token, [&] { moving_cancels++; });
  auto unwatched = t.Begin(token);  // e.g. a long stat --sha256
  clock.now += 6s;
  moving->Progress();
  clock.now += 6s;
  t.Sweep();
  EXPECT_EQ(stalled_cancels, 1);
  EXPECT_EQ(moving_cancels, 0);
  t.Sweep();
  EXPECT_EQ(stalled_cancels, 1) << "cancelled once only";
}

TEST(SessionTableTest, SessionsEndWhenTheAccountChanges) {
  FakeClock clock;
  bool valid = true;
  int checks = 0;
  SessionTable t({4, 100s, 1h, 4, 5s}, clock.fn(),
                 [&](const std::string& user, const std::string& cred) {
                   checks++;
                   EXPECT_EQ(user, "u");
                   EXPECT_EQ(cred, "hash-at-login");
                   return valid;
                 });
  auto token = *t.Create("u", "hash-at-login");
  EXPECT_TRUE(t.Begin(token).ok());
  EXPECT_EQ(checks, 0) << "not re-checked within the interval";
  clock.now += 6s;
  EXPECT_TRUE(t.Begin(token).ok());
  EXPECT_EQ(checks, 1);
  valid = false;  // `ferry user del` or `passwd`
  clock.now += 6s;
  auto s = t.Begin(token).status();
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("removed or its password changed"), std::string::npos);
  EXPECT_EQ(t.Begin(token).status().code(), Code::kUnauthenticated);
}

}  // namespace
}  // namespace ferry
