#include "net/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

namespace ferry {
namespace {

// The IPv4 address inside `a`, if it is IPv4 or IPv4-mapped IPv6.
bool AsIpv4(const sockaddr_storage& a, in_addr* out, uint16_t* port) {
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    *out = v4.sin_addr;
    *port = ntohs(v4.sin_port);
    return true;
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
  if (a.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
    std::memcpy(&out->s_addr, &v6.sin6_addr.s6_addr[12], 4);
    *port = ntohs(v6.sin6_port);
    return true;
  }
  return false;
}

std::string Text(int family, const void* address) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, address, buf, sizeof buf);
  return buf;
}

// The inode of the socket `fd` names now, or 0.
ino_t SocketInode(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return st.st_ino;
}

}  // namespace

std::string SourceOf(const sockaddr_storage& address) {
  in_addr v4{};
  uint16_t port = 0;
  if (AsIpv4(address, &v4, &port)) return Text(AF_INET, &v4);
  if (address.ss_family != AF_INET6) return "unknown";
  in6_addr prefix = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
  std::memset(&prefix.s6_addr[8], 0, 8);
  return Text(AF_INET6, &prefix) + "/64";
}

std::string EndpointOf(const sockaddr_storage& address) {
  in_addr v4{};
  uint16_t port = 0;
  if (AsIpv4(address, &v4, &port)) return Text(AF_INET, &v4) + ":" + std::to_string(port);
  if (address.ss_family != AF_INET6) return "unknown";
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
  return "[" + Text(AF_INET6, &v6.sin6_addr) + "]:" + std::to_string(ntohs(v6.sin6_port));
}

ConnectionGate::ConnectionGate(ConnectionLimits limits, SteadyClock clock)
    : limits_(limits), clock_(std::move(clock)) {}

ConnectionGate::Verdict ConnectionGate::Admit(int fd, const sockaddr_storage& peer) {
  std::string source = SourceOf(peer);
  std::string endpoint = EndpointOf(peer);
  ino_t inode = SocketInode(fd);
  std::lock_guard lock(mu_);
  auto penalty = penalized_until_.find(source);
  if (penalty != penalized_until_.end()) {
    if (clock_() < penalty->second) {
      ++refused_penalized_;
      return Verdict::kPenalized;
    }
    penalized_until_.erase(penalty);
  }
  if (static_cast<int>(connections_.size()) >= limits_.max_connections) {
    ++refused_server_full_;
    return Verdict::kServerFull;
  }
  int& n = per_source_[source];
  if (n >= limits_.max_per_source) {
    ++refused_source_full_;
    return Verdict::kSourceFull;
  }
  // An endpoint counted still is a connection whose close Sweep() has not
  // seen yet (the kernel reuses a port only once its socket is gone).
  if (auto old = connections_.find(endpoint); old != connections_.end()) Forget(old);
  ++per_source_[source];
  connections_[endpoint] = Connection{fd, inode, std::move(source)};
  ++admitted_;
  return Verdict::kAdmitted;
}

void ConnectionGate::Sweep() {
  std::lock_guard lock(mu_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    auto next = std::next(it);
    if (SocketInode(it->second.fd) != it->second.inode) Forget(it);
    it = next;
  }
  auto now = clock_();
  std::erase_if(penalized_until_, [&](const auto& e) { return e.second <= now; });
}

int ConnectionGate::CutSource(const std::string& endpoint) {
  std::lock_guard lock(mu_);
  auto it = connections_.find(endpoint);
  if (it == connections_.end()) return 0;
  const std::string source = it->second.source;
  int cut = 0;
  for (const auto& [key, c] : connections_) {
    if (c.source != source) continue;
    ShutDown(c);
    ++cut;
  }
  Penalize(source);
  cut_ += cut;
  return cut;
}

void ConnectionGate::ShutDown(const Connection& c) {
  // Only while the descriptor still names the admitted socket. What the
  // client sent that the owner has not read is thrown away first (an abusive
  // client's backlog would otherwise still be worked through); the owner then
  // sees the end of the stream and closes it, which Sweep() notices.
  if (SocketInode(c.fd) != c.inode) return;
  for (int i = 0; i < 64; ++i) {
    if (::recv(c.fd, nullptr, 1 << 20, MSG_DONTWAIT | MSG_TRUNC) <= 0) break;
  }
  ::shutdown(c.fd, SHUT_RDWR);
}

ConnectionGate::Counts ConnectionGate::counts() const {
  std::lock_guard lock(mu_);
  Counts c;
  c.open = static_cast<int>(connections_.size());
  c.sources = static_cast<int>(per_source_.size());
  c.refused = refused_server_full_ + refused_source_full_ + refused_penalized_;
  c.cut = cut_;
  c.admitted = admitted_;
  c.refused_server_full = refused_server_full_;
  c.refused_source_full = refused_source_full_;
  c.refused_penalized = refused_penalized_;
  return c;
}

void ConnectionGate::Forget(std::unordered_map<std::string, Connection>::iterator it) {
  auto n = per_source_.find(it->second.source);
  if (n != per_source_.end() && --n->second <= 0) per_source_.erase(n);
  connections_.erase(it);
}

void ConnectionGate::Penalize(const std::string& source) {
  if (penalized_until_.size() >= limits_.max_penalized) {
    auto oldest =
        std::min_element(penalized_until_.begin(), penalized_until_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    penalized_until_.erase(oldest);
  }
  penalized_until_[source] = clock_() + limits_.penalty;
}

}  // namespace ferry
