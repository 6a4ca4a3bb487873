#include "net/tcp_acceptor.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ferry {
namespace {

constexpr auto kReportEvery = std::chrono::seconds(10);

Result<UniqueFd> BindOne(const addrinfo& ai, bool dual_stack) {
  UniqueFd fd(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "cannot make a listening socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ai.ai_family == AF_INET6) {
    int v6only = dual_stack ? 0 : 1;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(fd.get(), ai.ai_addr, ai.ai_addrlen) != 0 || ::listen(fd.get(), SOMAXCONN) != 0) {
    return ErrnoStatus(errno, "cannot listen");
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in&>(ss).sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6&>(ss).sin6_port);
}

// Closes `fd` with a reset rather than an orderly close.
void Reset(UniqueFd fd) {
  linger hard{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
}

}  // namespace

Result<std::unique_ptr<TcpAcceptor>> TcpAcceptor::Listen(const HostPort& address, Options options) {
  const std::string listen = address.ToString();
  const std::string service = std::to_string(address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const char* host = address.host.empty() || address.host == "*" ? nullptr : address.host.c_str();
  if (int rc = ::getaddrinfo(host, service.c_str(), &hints, &found); rc != 0) {
    return Status::InvalidArgument(
        fmt::format("cannot listen on '{}': {}", listen, ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, &::freeaddrinfo);
  const bool dual_stack = host == nullptr || address.host == "::";
  std::vector<UniqueFd> listeners;
  int port = 0;
  Status last = Status::Ok();
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    // With port 0, every address gets the port the first one was given.
    if (port != 0) {
      auto* sa = ai->ai_addr;
      if (sa->sa_family == AF_INET) reinterpret_cast<sockaddr_in*>(sa)->sin_port = htons(port);
      if (sa->sa_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(sa)->sin6_port = htons(port);
    }
    auto fd = BindOne(*ai, dual_stack);
    if (!fd.ok()) {
      last = fd.status();
      continue;
    }
    if (port == 0) port = BoundPort(fd->get());
    listeners.push_back(std::move(fd).value());
    if (dual_stack && ai->ai_family == AF_INET6) break;  // it takes IPv4 too
  }
  if (listeners.empty()) {
    return Status::Unavailable(fmt::format("cannot listen on {}: {}", listen, last.message()));
  }
  return std::unique_ptr<TcpAcceptor>(
      new TcpAcceptor(std::move(listeners), port, std::move(options)));
}

TcpAcceptor::TcpAcceptor(std::vector<UniqueFd> listeners, int port, Options options)
    : listeners_(std::move(listeners)),
      port_(port),
      options_(std::move(options)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      spare_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

TcpAcceptor::~TcpAcceptor() { Stop(); }

void TcpAcceptor::Start(ConnectionGate* gate, Handler handler) {
  gate_ = gate;
  handler_ = std::move(handler);
  thread_ = std::thread([this] { Run(); });
}

void TcpAcceptor::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
    thread_.join();
  }
  listeners_.clear();
}

void TcpAcceptor::Run() {
  std::vector<pollfd> fds;
  for (auto& l : listeners_) fds.push_back({l.get(), POLLIN, 0});
  fds.push_back({wake_.get(), POLLIN, 0});
  auto next_sweep = std::chrono::steady_clock::now();
  for (;;) {
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(options_.sweep_interval.count()));
    if (n < 0 && errno != EINTR) {
      spdlog::error("connection acceptor: poll failed: {}", std::strerror(errno));
    }
    if (fds.back().revents & POLLIN) return;
    auto now = std::chrono::steady_clock::now();
    if (now >= next_sweep) {
      gate_->Sweep();
      next_sweep = now + options_.sweep_interval;
    }
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents & POLLIN) AcceptAll(fds[i].fd);
    }
    ReportRefusals(false);
  }
}

void TcpAcceptor::AcceptAll(int listener) {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    UniqueFd fd(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
      if ((err == EMFILE || err == ENFILE) && spare_.valid()) {
        // Out of descriptors: use the spare one to take the connection off the
        // queue and reset it, then keep the spare again.
        spare_.Reset();
        UniqueFd waiting(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
        const bool took = waiting.valid();
        if (took) Reset(std::move(waiting));
        spare_.Reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (took) {
          ++refused_fds_;
          continue;
        }
      }
      NoteFailure(err);
      // Let the condition pass rather than spin on a listener that stays readable.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return;
    }
    failing_ = false;
    auto verdict = gate_->Admit(fd.get(), peer);
    if (verdict != ConnectionGate::Verdict::kAdmitted) {
      Refuse(std::move(fd), verdict, SourceOf(peer));
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    handler_(std::move(fd), EndpointOf(peer));
  }
}

void TcpAcceptor::NoteFailure(int err) {
  auto now = std::chrono::steady_clock::now();
  if (!failing_) {
    failing_ = true;
    failing_since_ = now;
    last_failure_report_ = {};
  }
  if (now - last_failure_report_ >= kReportEvery) {
    spdlog::error("cannot accept connections: {}", std::strerror(err));
    last_failure_report_ = now;
  }
  if (now - failing_since_ > options_.give_up_after && options_.on_fatal) {
    options_.on_fatal(fmt::format("cannot accept connections for {} s: {}",
                                  options_.give_up_after.count(), std::strerror(err)));
    options_.on_fatal = nullptr;
  }
}

void TcpAcceptor::Refuse(UniqueFd fd, ConnectionGate::Verdict verdict, const std::string& source) {
  Reset(std::move(fd));
  switch (verdict) {
    case ConnectionGate::Verdict::kServerFull:
      ++refused_full_;
      break;
    case ConnectionGate::Verdict::kSourceFull:
      ++refused_source_;
      break;
    case ConnectionGate::Verdict::kPenalized:
      ++refused_penalized_;
      break;
    case ConnectionGate::Verdict::kAdmitted:
      break;
  }
  last_refused_source_ = source;
}

void TcpAcceptor::ReportRefusals(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_report_ < kReportEvery) return;
  uint64_t total = refused_full_ + refused_source_ + refused_penalized_ + refused_fds_;
  if (total == 0) return;
  const auto& limits = gate_->limits();
  // Running out of descriptors is the operator's problem to solve, so it is an error.
  auto level = refused_fds_ > 0 ? spdlog::level::err : spdlog::level::warn;
  spdlog::log(
      level,
      "refused {} connections since the last report: {} over the server's limit of {} "
      "(--max-connections), {} over the per-source limit of {} (--max-connections-per-source), "
      "{} from sources cut for abuse, {} for lack of file descriptors; the last from {}",
      total, refused_full_, limits.max_connections, refused_source_, limits.max_per_source,
      refused_penalized_, refused_fds_, last_refused_source_);
  refused_full_ = refused_source_ = refused_penalized_ = refused_fds_ = 0;
  last_report_ = now;
}

}  // namespace ferry
