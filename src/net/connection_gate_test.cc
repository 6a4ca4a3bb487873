#include "net/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "net/tcp_acceptor.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using Verdict = ConnectionGate::Verdict;

sockaddr_storage V4(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& a = reinterpret_cast<sockaddr_in&>(ss);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return ss;
}

sockaddr_storage V6(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto& a = reinterpret_cast<sockaddr_in6&>(ss);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return ss;
}

// Both ends of a TCP connection on loopback: {server side, client side}.
std::pair<UniqueFd, UniqueFd> TcpPair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(listener.get(), 1), 0);
  EXPECT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return {UniqueFd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)), std::move(client)};
}

// A real socket, so the gate can tell when it is closed.
UniqueFd Socket() { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); }

TEST(SourceOfTest, GroupsIpv6ByPrefixAndMappedIpv4AsIpv4) {
  EXPECT_EQ(SourceOf(V4("192.0.2.7", 1)), "192.0.2.7");
  EXPECT_EQ(SourceOf(V6("2001:db8:1:2:aaaa::1", 1)), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceOf(V6("2001:db8:1:2:bbbb::9", 1)), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceOf(V6("::ffff:192.0.2.7", 1)), "192.0.2.7");
  EXPECT_EQ(EndpointOf(V6("::ffff:192.0.2.7", 443)), "192.0.2.7:443");
  EXPECT_EQ(EndpointOf(V6("2001:db8::1", 443)), "[2001:db8::1]:443");
}

class ConnectionGateTest : public ::testing::Test {
 protected:
  std::chrono::steady_clock::time_point now_{};
  ConnectionGate gate_{ConnectionLimits{4, 2, 60s, 16}, [this] { return now_; }};
};

TEST_F(ConnectionGateTest, CapsEachSourceAndTheTotal) {
  std::vector<UniqueFd> fds;
  for (int i = 0; i < 6; ++i) fds.push_back(Socket());
  EXPECT_EQ(gate_.Admit(fds[0].get(), V4("10.0.0.1", 1)), Verdict::kAdmitted);
  EXPECT_EQ(gate_.Admit(fds[1].get(), V4("10.0.0.1", 2)), Verdict::kAdmitted);
  EXPECT_EQ(gate_.Admit(fds[2].get(), V4("10.0.0.1", 3)), Verdict::kSourceFull);
  EXPECT_EQ(gate_.Admit(fds[2].get(), V4("10.0.0.2", 1)), Verdict::kAdmitted);
  EXPECT_EQ(gate_.Admit(fds[3].get(), V4("10.0.0.3", 1)), Verdict::kAdmitted);
  EXPECT_EQ(gate_.Admit(fds[4].get(), V4("10.0.0.4", 1)), Verdict::kServerFull);
  EXPECT_EQ(gate_.counts().open, 4);
  EXPECT_EQ(gate_.counts().refused, 2u);
  EXPECT_EQ(gate_.counts().admitted, 4u);
  EXPECT_EQ(gate_.counts().refused_source_full, 1u);
  EXPECT_EQ(gate_.counts().refused_server_full, 1u);
  EXPECT_EQ(gate_.counts().refused_penalized, 0u);
}

TEST_F(ConnectionGateTest, SweepForgetsClosedConnectionsEvenWhenTheNumberIsReused) {
  UniqueFd a = Socket();
  UniqueFd b = Socket();
  ASSERT_EQ(gate_.Admit(a.get(), V4("10.0.0.1", 1)), Verdict::kAdmitted);
  ASSERT_EQ(gate_.Admit(b.get(), V4("10.0.0.1", 2)), Verdict::kAdmitted);
  gate_.Sweep();
  EXPECT_EQ(gate_.counts().open, 2);
  // a's number now names another socket: a is gone all the same.
  int number = a.get();
  a.Reset();
  UniqueFd reused = Socket();
  ASSERT_EQ(reused.get(), number);
  gate_.Sweep();
  EXPECT_EQ(gate_.counts().open, 1);
  b.Reset();
  gate_.Sweep();
  EXPECT_EQ(gate_.counts().open, 0);
  EXPECT_EQ(gate_.counts().sources, 0);
}

TEST_F(ConnectionGateTest, ACutSourceIsRefusedForThePenaltyThenAdmitted) {
  auto [mine, theirs] = TcpPair();
  auto [mine2, theirs2] = TcpPair();
  ASSERT_EQ(gate_.Admit(mine.get(), V4("10.0.0.1", 1)), Verdict::kAdmitted);
  ASSERT_EQ(gate_.Admit(mine2.get(), V4("10.0.0.1", 2)), Verdict::kAdmitted);
  // Unread input is thrown away, not left for the owner to work through.
  ASSERT_EQ(::write(theirs.get(), "backlog", 7), 7);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gate_.CutSource("10.0.0.1:1"), 2);
  EXPECT_EQ(gate_.CutSource("10.0.0.9:1"), 0);
  // Both connections of the source are shut down: their other ends read the
  // end of the stream, and the owner reads nothing of the backlog.
  char c;
  EXPECT_EQ(::read(theirs.get(), &c, 1), 0);
  EXPECT_EQ(::read(theirs2.get(), &c, 1), 0);
  EXPECT_EQ(::read(mine.get(), &c, 1), 0);
  UniqueFd again = Socket();
  EXPECT_EQ(gate_.Admit(again.get(), V4("10.0.0.1", 2)), Verdict::kPenalized);
  EXPECT_EQ(gate_.Admit(again.get(), V4("10.0.0.2", 2)), Verdict::kAdmitted);
  // Their owner closes the cut connections; after the penalty the source is welcome.
  mine.Reset();
  mine2.Reset();
  gate_.Sweep();
  now_ += 61s;
  UniqueFd later = Socket();
  EXPECT_EQ(gate_.Admit(later.get(), V4("10.0.0.1", 3)), Verdict::kAdmitted);
  EXPECT_EQ(gate_.counts().cut, 2u);
  EXPECT_EQ(gate_.counts().refused_penalized, 1u);
}

TEST(TcpAcceptorTest, RefusedConnectionsAreResetAndAdmittedOnesHandedOver) {
  auto acceptor = TcpAcceptor::Listen({"127.0.0.1", 0}, {});
  ASSERT_TRUE(acceptor.ok()) << acceptor.status().ToString();
  ConnectionGate gate(ConnectionLimits{8, 1, 60s, 16});
  std::mutex mu;
  std::vector<UniqueFd> handed;
  (*acceptor)->Start(&gate, [&](UniqueFd fd, const std::string&) {
    std::lock_guard lock(mu);
    handed.push_back(std::move(fd));
  });
  sockaddr_storage to = V4("127.0.0.1", static_cast<uint16_t>((*acceptor)->port()));
  auto connect = [&] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(sockaddr_in)), 0);
    return fd;
  };
  UniqueFd first = connect();
  UniqueFd second = connect();  // over the per-source limit of 1: reset
  char c;
  EXPECT_EQ(::read(second.get(), &c, 1), -1);
  EXPECT_EQ(errno, ECONNRESET);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(handed.size(), 1u);
    handed.clear();  // the owner closes the first connection
  }
  // Once the close is swept, the source may connect again.
  bool admitted = false;
  for (int i = 0; i < 40 && !admitted; ++i) {
    std::this_thread::sleep_for(100ms);
    UniqueFd next = connect();
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(mu);
    admitted = !handed.empty();
  }
  EXPECT_TRUE(admitted);
  (*acceptor)->Stop();
}

}  // namespace
}  // namespace ferry
