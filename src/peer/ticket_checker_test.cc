// The ticket checker against a fake directory (cpp-httplib on loopback) that
// vouches for one ticket: answers are remembered, refusals briefly, and a
// directory that cannot answer is asked again next time.
#include "peer/ticket_checker.h"

#include <httplib.h>

#include <atomic>
#include <ctime>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ferry {
namespace {

using namespace std::chrono_literals;

const std::string kPeer(32, 'a');
const std::string kGood(64, 'b');
const std::string kToken(64, 'f');

class FakeDirectory {
 public:
  FakeDirectory() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    server_.Post("/api/v1/login", [this](const httplib::Request&, httplib::Response& res) {
      ++logins;
      res.set_content(
          nlohmann::json{
              {"token", kToken}, {"username", "alice"}, {"expires_at", int64_t{4000000000}}}
              .dump(),
          "application/json");
    });
    server_.Post(
        "/api/v1/tickets/check", [this](const httplib::Request& req, httplib::Response& res) {
          ++checks;
          if (down) {
            res.status = 503;
            res.set_content(R"({"error": "busy"})", "application/json");
            return;
          }
          auto body = nlohmann::json::parse(req.body);
          if (req.get_header_value("Authorization") != "Bearer " + kToken ||
              body.value("peer_id", "") != kPeer || body.value("ticket", "") != kGood) {
            res.status = 403;
            res.set_content(R"({"error": "not a valid ticket for this peer"})", "application/json");
            return;
          }
          res.set_content(
              nlohmann::json{{"username", "bob"}, {"expires_at", std::time(nullptr) + expires_in}}
                  .dump(),
              "application/json");
        });
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeDirectory() {
    server_.stop();
    thread_.join();
  }
  dirclient::DirectoryClientOptions Options() const {
    dirclient::DirectoryClientOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port_);
    o.timeout = 5s;
    return o;
  }

  std::atomic<int> logins{0}, checks{0};
  std::atomic<bool> down{false};
  std::atomic<int64_t> expires_in{300};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TicketChecker::Login AsAlice() {
  return [](dirclient::DirectoryClient& c) { return c.Login("alice", "alice-password").status(); };
}

TEST(TicketCheckerTest, AVouchedTicketIsRememberedAndABadOneRefused) {
  FakeDirectory directory;
  TicketCheckerOptions options;
  options.refuse_for = 1s;
  TicketChecker checker(
      directory.Options(), AsAlice(), [] { return kPeer; }, options);

  for (int i = 0; i < 3; ++i) {
    auto user = checker.Check(kGood);
    ASSERT_TRUE(user.ok()) << user.status().ToString();
    EXPECT_EQ(*user, "bob");
  }
  EXPECT_EQ(directory.checks, 1);
  EXPECT_EQ(directory.logins, 1);

  const std::string bad(64, 'c');
  EXPECT_EQ(checker.Check(bad).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(checker.Check(bad).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(directory.checks, 2);  // the refusal is remembered
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(checker.Check(bad).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(directory.checks, 3);  // ... briefly
  EXPECT_EQ(checker.Check("not-hex").status().code(), Code::kPermissionDenied);
}

TEST(TicketCheckerTest, AnAnswerIsNotBelievedPastTheTicketsExpiry) {
  FakeDirectory directory;
  // Two seconds, not one: expiries are whole seconds of the wall clock, so a
  // second that ticks between the directory's answer and the checker's
  // reading of it leaves 1 s (never 0) to believe it.
  directory.expires_in = 2;
  TicketChecker checker(directory.Options(), AsAlice(), [] { return kPeer; });
  ASSERT_TRUE(checker.Check(kGood).ok());
  std::this_thread::sleep_for(2100ms);
  directory.expires_in = 300;
  ASSERT_TRUE(checker.Check(kGood).ok());
  EXPECT_EQ(directory.checks, 2);
}

TEST(TicketCheckerTest, ADirectoryThatCannotAnswerIsAskedAgain) {
  FakeDirectory directory;
  std::string peer;  // not announced yet
  TicketChecker checker(directory.Options(), AsAlice(), [&peer] { return peer; });
  EXPECT_EQ(checker.Check(kGood).status().code(), Code::kUnavailable);
  EXPECT_EQ(directory.checks, 0);
  peer = kPeer;
  directory.down = true;
  EXPECT_EQ(checker.Check(kGood).status().code(), Code::kUnavailable);
  directory.down = false;
  auto user = checker.Check(kGood);
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(*user, "bob");
}

}  // namespace
}  // namespace ferry
