#include "net/http_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>  // the client side of these tests
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/http_routes.h"
#include "net/http_stream.h"
#include "net/tls_identity.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;

// A socket connected to 127.0.0.1:port, closed on destruction.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads until `until` appears (then returns what came), the peer closes,
  // or 5 s pass.
  std::string ReadUntil(const std::string& until) {
    std::string got;
    char buf[4096];
    while (got.find(until) == std::string::npos) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  // True if the server closed the connection (read gives 0) within 5 s.
  bool ClosedByServer() {
    char c;
    return recv(fd_, &c, 1, 0) == 0;
  }
  // Reads and throws away what comes until the server closes or drops the
  // connection (true; `*bytes` is how much came), or 5 s pass with nothing.
  bool DrainUntilClosed(size_t* bytes) {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        *bytes += static_cast<size_t>(n);
        continue;
      }
      return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
  }
  // Closes the connection, as a client that goes away does.
  void HangUp() {
    close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// Voluntary context switches of every thread of this process so far.
long ContextSwitches() {
  long total = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream status(task.path() / "status");
    std::string key;
    while (status >> key) {
      if (key == "voluntary_ctxt_switches:") {
        long n = 0;
        status >> n;
        total += n;
      }
    }
  }
  return total;
}

// "METHOD PATH a=1;b=2; BODY from ADDRESS"; 404 for /missing.
void Echo(const HttpRequest& req, HttpResponse& res) {
  std::string params;
  for (const auto& [k, v] : req.query) params += k + "=" + v + ";";
  res.status = req.path == "/missing" ? 404 : 200;
  res.SetBody(
      req.method + " " + req.path + " " + params + " " + req.body + " from " + req.remote_addr,
      "text/plain");
}

// A route for `method` and `pattern` that echoes, after `before` if any.
HttpRoute EchoRoute(std::string method, std::string pattern, bool answered_on_loop = true,
                    std::function<void(const HttpRequest&)> before = {}) {
  HttpRoute route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.answered_on_loop = answered_on_loop;
  route.handler = [before = std::move(before)](const HttpRequest& req, const PathParams&,
                                               HttpResponse& res) -> PoolWork {
    if (before) before(req);
    Echo(req, res);
    return {};
  };
  return route;
}

// GET and POST of "/" and of any one-segment path, echoed on the loop.
void AddEchoRoutes(HttpRoutes& routes) {
  for (const char* method : {"GET", "POST"}) {
    routes.Add(EchoRoute(method, "/"));
    routes.Add(EchoRoute(method, "/{path}"));
  }
}

// The streams a streaming route answered with, for a test to write to.
class Streams {
 public:
  // The stream the next request gets; none: a new one.
  void Prepare(std::shared_ptr<HttpStream> stream) {
    std::lock_guard lock(mu_);
    prepared_ = std::move(stream);
  }
  std::shared_ptr<HttpStream> Answer(size_t max_queued) {
    std::lock_guard lock(mu_);
    auto stream = prepared_ ? std::move(prepared_) : std::make_shared<HttpStream>(max_queued);
    prepared_.reset();
    answered_.push_back(stream);
    changed_.notify_all();
    return stream;
  }
  // The n-th stream answered (from 0), once it is; null after 5 s.
  std::shared_ptr<HttpStream> Get(size_t n) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, 5s, [&] { return answered_.size() > n; });
    return answered_.size() > n ? answered_[n] : nullptr;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::shared_ptr<HttpStream> prepared_;               // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<HttpStream>> answered_;  // GUARDED_BY(mu_)
};

// GET `pattern` answered with Server-Sent Events from `streams`.
HttpRoute StreamRoute(std::string pattern, Streams& streams, bool answered_on_loop = true,
                      size_t max_queued = 1 << 20) {
  HttpRoute route;
  route.method = "GET";
  route.pattern = std::move(pattern);
  route.answered_on_loop = answered_on_loop;
  route.handler = [&streams, max_queued](const HttpRequest&, const PathParams&,
                                         HttpResponse& res) -> PoolWork {
    res.SetHeader("Content-Type", "text/event-stream");
    res.SetHeader("Cache-Control", "no-cache");
    res.stream = streams.Answer(max_queued);
    return {};
  };
  return route;
}

// True once `stream` is closed, within `limit`.
bool ClosesWithin(HttpStream& stream, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!stream.closed()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// An event with `data`, as Server-Sent Events frame it.
std::string Event(const std::string& data) { return "data: " + data + "\n\n"; }

class HttpServerTest : public ::testing::Test {
 protected:
  void TearDown() override { StopServer(); }

  // Serves `routes` (echo routes when none are given).
  void StartServer(HttpServerOptions options, std::unique_ptr<HttpRoutes> routes = nullptr) {
    if (!routes) {
      routes = std::make_unique<HttpRoutes>();
      AddEchoRoutes(*routes);
    }
    routes_ = std::move(routes);
    auto bound = HttpServer::Bind(options, routes_.get());
    ASSERT_TRUE(bound.ok()) << bound.status().ToString();
    server_ = std::move(bound).value();
    serving_ = std::thread([this] { server_->Serve(); });
  }
  // Stops and waits for Serve() to return; the time that took.
  std::chrono::milliseconds StopServer() {
    auto start = std::chrono::steady_clock::now();
    if (server_) server_->Stop();
    if (serving_.joinable()) serving_.join();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }
  int port() const { return server_->port(); }
  void ExpectStopAnswersRequestsInHand(bool slow_answered_on_loop);

  std::unique_ptr<HttpRoutes> routes_;
  std::unique_ptr<HttpServer> server_;
  std::thread serving_;
};

TEST_F(HttpServerTest, AnswersRequestsOnKeptAliveConnections) {
  StartServer(HttpServerOptions{});
  httplib::Client client("127.0.0.1", port());
  client.set_keep_alive(true);
  auto get = client.Get("/a%20b?q=x%20y&n=2");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "GET /a b n=2;q=x y;  from 127.0.0.1");
  EXPECT_EQ(get->get_header_value("Content-Type"), "text/plain");
  auto post = client.Post("/p", "body!", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->body, "POST /p  body! from 127.0.0.1");
  auto missing = client.Get("/missing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // HEAD: the length of the body a GET would get, and no body.
  RawConnection raw(port());
  ASSERT_TRUE(
      raw.Send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string both = raw.ReadUntil("from 127.0.0.1");
  const std::string head_body = "HEAD /h   from 127.0.0.1";  // what a body would have been
  EXPECT_NE(both.find("Content-Length: " + std::to_string(head_body.size()) + "\r\n"),
            std::string::npos)
      << both;
  EXPECT_EQ(both.find("HEAD /h"), std::string::npos) << both;
  EXPECT_NE(both.find("GET /after"), std::string::npos) << both;
}

TEST_F(HttpServerTest, MoreOpenConnectionsThanLoopsAreAllServed) {
  HttpServerOptions options;
  options.loops = 2;
  StartServer(options);
  // Eight connections stay open; each asks in turn, twice. A server with a
  // thread per connection (and two threads) would answer only the first two.
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < 8; ++i) {
    connections.push_back(std::make_unique<RawConnection>(port()));
    ASSERT_TRUE(connections.back()->connected());
  }
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 8; ++i) {
      std::string path = "/c" + std::to_string(i) + "r" + std::to_string(round);
      ASSERT_TRUE(connections[i]->Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
      std::string reply = connections[i]->ReadUntil("from 127.0.0.1");
      EXPECT_NE(reply.find("GET " + path), std::string::npos) << i << ": " << reply;
    }
  }
}

TEST_F(HttpServerTest, RequestsThatMayWaitHoldUpNoLoop) {
  HttpServerOptions options;
  options.loops = 1;
  options.threads = 2;
  std::atomic<bool> slow_entered{false}, slow_done{false}, fast_saw_slow_running{true};
  std::mutex mu;
  std::set<std::thread::id> fast_threads, slow_threads;
  auto routes = std::make_unique<HttpRoutes>();
  routes->Add(EchoRoute("GET", "/fast", true, [&](const HttpRequest&) {
    std::lock_guard lock(mu);
    fast_threads.insert(std::this_thread::get_id());
    if (slow_done) fast_saw_slow_running = false;
  }));
  routes->Add(EchoRoute("GET", "/slow", false, [&](const HttpRequest&) {
    {
      std::lock_guard lock(mu);
      slow_threads.insert(std::this_thread::get_id());
    }
    slow_entered = true;
    std::this_thread::sleep_for(1s);
    slow_done = true;
  }));
  StartServer(options, std::move(routes));
  // Both waiting requests are in hand at once, on the pool's two threads.
  RawConnection slow1(port()), slow2(port());
  ASSERT_TRUE(slow1.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(slow2.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  while (!slow_entered) std::this_thread::sleep_for(5ms);
  // Meanwhile the one loop answers everyone else, in turn, on its thread.
  RawConnection fast1(port()), fast2(port());
  for (int i = 0; i < 3; ++i) {
    for (RawConnection* fast : {&fast1, &fast2}) {
      ASSERT_TRUE(fast->Send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"));
      EXPECT_NE(fast->ReadUntil("from 127.0.0.1").find("GET /fast"), std::string::npos);
    }
  }
  EXPECT_TRUE(fast_saw_slow_running) << "the loop waited for a request on the pool";
  EXPECT_NE(slow1.ReadUntil("from 127.0.0.1").find("GET /slow"), std::string::npos);
  EXPECT_NE(slow2.ReadUntil("from 127.0.0.1").find("GET /slow"), std::string::npos);
  std::lock_guard lock(mu);
  EXPECT_EQ(fast_threads.size(), 1u);
  EXPECT_EQ(slow_threads.size(), 2u);
  for (auto id : slow_threads) EXPECT_EQ(fast_threads.count(id), 0u);
}

TEST_F(HttpServerTest, IdleConnectionsCostNoWakeUps) {
  StartServer(HttpServerOptions{});
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 32; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port()));
    ASSERT_TRUE(idle.back()->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_NE(idle.back()->ReadUntil("from 127.0.0.1").find("200 OK"), std::string::npos);
  }
  long before = ContextSwitches();
  std::this_thread::sleep_for(1s);
  long during = ContextSwitches() - before;
  // cpp-httplib's server, polling each idle connection every 11 ms, made
  // about 5,700 here; the test thread's own sleep is one.
  EXPECT_LT(during, 100);
}

TEST_F(HttpServerTest, BadRequestsGetAClearRefusal) {
  HttpServerOptions options;
  options.max_body = 1000;
  options.max_header = 2000;
  StartServer(options);
  {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
    std::string reply = raw.ReadUntil("}");
    EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
    EXPECT_NE(reply.find("the request body is larger than 1000 bytes, this request's limit"),
              std::string::npos)
        << reply;
    EXPECT_TRUE(raw.ClosedByServer());
  }
  {
    RawConnection raw(port());
    ASSERT_TRUE(
        raw.Send("GET /p HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(3000, 'a') + "\r\n\r\n"));
    std::string reply = raw.ReadUntil("}");
    EXPECT_NE(reply.find("HTTP/1.1 431"), std::string::npos) << reply;
    EXPECT_TRUE(raw.ClosedByServer());
  }
  {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send("NOT HTTP AT ALL\r\n\r\n"));
    std::string reply = raw.ReadUntil("}");
    EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
    EXPECT_NE(reply.find("malformed HTTP request"), std::string::npos) << reply;
    EXPECT_TRUE(raw.ClosedByServer());
  }
  // The server is still there.
  httplib::Client client("127.0.0.1", port());
  auto ok = client.Get("/still");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, EachRequestHasTheBodyLimitOfItsHead) {
  HttpServerOptions options;
  options.max_body = 1 << 20;
  HttpRouteOptions route_options;
  route_options.body_limit = 100;
  auto routes = std::make_unique<HttpRoutes>(route_options);
  int limits_asked = 0;  // on the one loop, so no race
  HttpRoute big_route = EchoRoute("POST", "/big");
  big_route.body_limit = [&](const HttpRequest& head) -> size_t {
    ++limits_asked;
    return head.Header("authorization") == "yes" ? 1 << 20 : 100;
  };
  routes->Add(std::move(big_route));
  routes->Add(EchoRoute("POST", "/small"));
  options.loops = 1;
  StartServer(options, std::move(routes));
  // Refused on its Content-Length alone, before any of the body is sent.
  {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n"));
    std::string reply = raw.ReadUntil("}");
    EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
    EXPECT_NE(reply.find("larger than 100 bytes"), std::string::npos) << reply;
    EXPECT_TRUE(raw.ClosedByServer());
  }
  // A chunked body is refused as it crosses the limit.
  {
    RawConnection raw(port());
    ASSERT_TRUE(
        raw.Send("POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" +
                 std::string(100, 'a') + "\r\n1\r\nb\r\n"));
    std::string reply = raw.ReadUntil("}");
    EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
    EXPECT_TRUE(raw.ClosedByServer());
  }
  httplib::Client client("127.0.0.1", port());
  auto big = client.Post("/big", {{"Authorization", "yes"}}, std::string(5000, 'z'), "text/plain");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 200);
  auto small = client.Post("/small", std::string(100, 'z'), "text/plain");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  // Once per request to /big: its route was matched once, with its head.
  EXPECT_EQ(limits_asked, 2);
}

TEST_F(HttpServerTest, TransferCodingsOtherThanChunkedAloneAreNotImplemented) {
  StartServer(HttpServerOptions{});
  for (const char* codings : {"Transfer-Encoding: gzip\r\n", "Transfer-Encoding: gzip, chunked\r\n",
                              "Transfer-Encoding: chunked, gzip\r\n",
                              "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                              "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                              "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"}) {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send(std::string("POST /p HTTP/1.1\r\nHost: x\r\n") + codings +
                         "\r\n3\r\nabc\r\n0\r\n\r\n"));
    std::string reply = raw.ReadUntil("}");
    EXPECT_NE(reply.find("HTTP/1.1 501"), std::string::npos) << codings << reply;
    EXPECT_NE(reply.find("Transfer-Encoding"), std::string::npos) << reply;
    EXPECT_TRUE(raw.ClosedByServer()) << codings;
  }
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send(
      "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  EXPECT_NE(raw.ReadUntil("from 127.0.0.1").find("POST /p  abc"), std::string::npos);
}

TEST_F(HttpServerTest, ExpectContinueGetsTheGoAhead) {
  StartServer(HttpServerOptions{});
  RawConnection raw(port());
  ASSERT_TRUE(
      raw.Send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_NE(raw.ReadUntil("\r\n\r\n").find("HTTP/1.1 100 Continue"), std::string::npos);
  ASSERT_TRUE(raw.Send("data"));
  EXPECT_NE(raw.ReadUntil("from 127.0.0.1").find("POST /p  data"), std::string::npos);
}

TEST_F(HttpServerTest, IdleConnectionsTimeOut) {
  HttpServerOptions options;
  options.idle_timeout = 300ms;
  StartServer(options);
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(raw.ReadUntil("from 127.0.0.1").find("200 OK"), std::string::npos);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(raw.ClosedByServer());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST_F(HttpServerTest, ConnectionsPastTheCapAreResetAndServedOnceOthersClose) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  auto first = std::make_unique<RawConnection>(port());
  RawConnection second(port());
  // Both are served: the cap counts open connections, not requests.
  for (RawConnection* c : {first.get(), &second}) {
    ASSERT_TRUE(c->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_NE(c->ReadUntil("from 127.0.0.1").find("200 OK"), std::string::npos);
  }
  RawConnection third(port());
  third.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t answered = 0;
  EXPECT_TRUE(third.DrainUntilClosed(&answered));
  EXPECT_EQ(answered, 0u);
  // One closes: a new connection is served again.
  first.reset();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  bool served = false;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    RawConnection again(port());
    served = again.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n") &&
             again.ReadUntil("from 127.0.0.1").find("200 OK") != std::string::npos;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

// Stops while a slow request is in hand (on a loop, or on the pool of
// threads when `options` says so): that one is answered, an idle connection
// is closed, and Serve() returns well before the grace ends.
void HttpServerTest::ExpectStopAnswersRequestsInHand(bool slow_answered_on_loop) {
  std::atomic<bool> entered{false};
  auto routes = std::make_unique<HttpRoutes>();
  routes->Add(EchoRoute("GET", "/slow", slow_answered_on_loop, [&](const HttpRequest&) {
    entered = true;
    std::this_thread::sleep_for(500ms);
  }));
  AddEchoRoutes(*routes);
  StartServer(HttpServerOptions{}, std::move(routes));
  RawConnection idle(port());
  ASSERT_TRUE(idle.Send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(idle.ReadUntil("from 127.0.0.1").find("200 OK"), std::string::npos);
  RawConnection busy(port());
  ASSERT_TRUE(busy.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  while (!entered) std::this_thread::sleep_for(5ms);
  std::string reply;
  std::thread reader([&] { reply = busy.ReadUntil("from 127.0.0.1"); });
  auto took = StopServer();
  reader.join();
  EXPECT_NE(reply.find("GET /slow"), std::string::npos) << reply;
  EXPECT_TRUE(idle.ClosedByServer());
  // Not the 60 s idle timeout, nor the 10 s grace.
  EXPECT_LT(took, 5s);
  RawConnection refused(port());
  EXPECT_FALSE(refused.connected());
}

TEST_F(HttpServerTest, StopAnswersRequestsInHandAndClosesIdleConnections) {
  ExpectStopAnswersRequestsInHand(true);
}

TEST_F(HttpServerTest, StopAnswersRequestsInHandOnThePoolOfThreads) {
  ExpectStopAnswersRequestsInHand(false);
}

TEST_F(HttpServerTest, ServesTlsAndRefusesAnUnusableCertificate) {
  std::string dir = ::testing::TempDir() + "/http-server-tls";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  bool created = false;
  ASSERT_TRUE(LoadOrCreateSelfSigned(dir + "/c.pem", dir + "/k.pem", &created).ok());
  HttpServerOptions options;
  options.cert_file = dir + "/c.pem";
  options.key_file = dir + "/k.pem";
  StartServer(options);
  httplib::SSLClient client("127.0.0.1", port());
  client.enable_server_certificate_verification(false);
  auto get = client.Get("/secure");
  ASSERT_TRUE(get) << httplib::to_string(get.error());
  EXPECT_EQ(get->body, "GET /secure   from 127.0.0.1");
  // Plain HTTP to the TLS port gets no answer, and breaks nothing.
  {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(raw.ReadUntil("200 OK").find("200 OK"), std::string::npos);
  }
  EXPECT_TRUE(client.Get("/again"));

  HttpServerOptions wrong = options;
  wrong.key_file = dir + "/c.pem";  // a certificate is not a key
  auto refused = HttpServer::Bind(wrong, routes_.get());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("cannot use the TLS certificate"), std::string::npos);
}

TEST_F(HttpServerTest, ATakenPortIsUnavailable) {
  StartServer(HttpServerOptions{});
  HttpServerOptions same;
  same.port = port();
  auto second = HttpServer::Bind(same, routes_.get());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
}

// Echo routes, and streams from `streams` at /events (on the loop) and
// /pool/events (on a pool thread), each with `max_queued`.
std::unique_ptr<HttpRoutes> StreamRoutes(Streams& streams, size_t max_queued = 1 << 20) {
  auto routes = std::make_unique<HttpRoutes>();
  routes->Add(StreamRoute("/events", streams, true, max_queued));
  routes->Add(StreamRoute("/pool/events", streams, false, max_queued));
  AddEchoRoutes(*routes);
  return routes;
}

TEST_F(HttpServerTest, StreamSendsWhatIsWrittenBeforeAndAfterTheClientCame) {
  Streams streams;
  StartServer(HttpServerOptions{}, StreamRoutes(streams));
  for (const std::string path : {"/events", "/pool/events"}) {
    auto stream = std::make_shared<HttpStream>();
    ASSERT_TRUE(stream->Write(Event("1")));
    ASSERT_TRUE(stream->Write(Event("2")));
    streams.Prepare(stream);
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string got = raw.ReadUntil(Event("2"));
    std::string expected = Event("1") + Event("2");
    // Then from another thread, while the client waits.
    std::thread writer([&] {
      for (int i = 3; i <= 100; ++i) EXPECT_TRUE(stream->Write(Event(std::to_string(i))));
      stream->Close();
    });
    for (int i = 3; i <= 100; ++i) expected += Event(std::to_string(i));
    got += raw.ReadUntil("the end, which never comes");
    writer.join();
    size_t body = got.find("\r\n\r\n");
    ASSERT_NE(body, std::string::npos) << got;
    const std::string head = got.substr(0, body + 2);
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
    EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
    EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
    EXPECT_EQ(got.substr(body + 4), expected) << path;
    EXPECT_FALSE(stream->Write(Event("late")));
  }
}

TEST_F(HttpServerTest, StreamOfAClientThatHangsUpCloses) {
  Streams streams;
  StartServer(HttpServerOptions{}, StreamRoutes(streams));
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(raw.ReadUntil("\r\n\r\n").find("200 OK"), std::string::npos);
  auto stream = streams.Get(0);
  ASSERT_TRUE(stream);
  EXPECT_FALSE(stream->closed());
  // Noticed while nothing is written, not at the next write.
  raw.HangUp();
  EXPECT_TRUE(ClosesWithin(*stream, 2s));
  EXPECT_FALSE(stream->Write(Event("anyone?")));
}

TEST_F(HttpServerTest, StreamsOutliveTheIdleAndWriteTimeouts) {
  Streams streams;
  HttpServerOptions options;
  options.idle_timeout = 100ms;
  options.io_timeout = 100ms;
  StartServer(options, StreamRoutes(streams));
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(raw.ReadUntil("\r\n\r\n").find("200 OK"), std::string::npos);
  auto stream = streams.Get(0);
  ASSERT_TRUE(stream);
  ASSERT_TRUE(stream->Write(Event("1")));
  EXPECT_NE(raw.ReadUntil(Event("1")).find(Event("1")), std::string::npos);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(stream->Write(Event("2")));
  EXPECT_NE(raw.ReadUntil(Event("2")).find(Event("2")), std::string::npos);
  EXPECT_FALSE(stream->closed());
}

TEST_F(HttpServerTest, StopEndsStreamsAtOnce) {
  Streams streams;
  StartServer(HttpServerOptions{}, StreamRoutes(streams));
  RawConnection raw(port()), pooled(port());
  ASSERT_TRUE(raw.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(pooled.Send("GET /pool/events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(raw.ReadUntil("\r\n\r\n").find("200 OK"), std::string::npos);
  ASSERT_NE(pooled.ReadUntil("\r\n\r\n").find("200 OK"), std::string::npos);
  auto first = streams.Get(0), second = streams.Get(1);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->Write(Event("1")));
  // Not the 10 s grace: the streams do not end by themselves.
  EXPECT_LT(StopServer(), 2s);
  size_t bytes = 0;
  EXPECT_TRUE(raw.DrainUntilClosed(&bytes));
  EXPECT_TRUE(pooled.DrainUntilClosed(&bytes));
  EXPECT_TRUE(first->closed());
  EXPECT_TRUE(second->closed());
  EXPECT_FALSE(first->Write(Event("2")));
}

TEST_F(HttpServerTest, StreamOfAClientThatDoesNotReadIsDropped) {
  Streams streams;
  constexpr size_t kMaxQueued = 256 << 10;
  StartServer(HttpServerOptions{}, StreamRoutes(streams, kMaxQueued));
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(raw.ReadUntil("\r\n\r\n").find("200 OK"), std::string::npos);
  auto stream = streams.Get(0);
  ASSERT_TRUE(stream);
  // The client reads nothing more. Written at a pace the server keeps up
  // with until the socket's buffers are full (a few MiB on loopback); then
  // the queue grows past its limit.
  const std::string chunk(64 << 10, 'x');
  constexpr size_t kEnough = 64 << 20;
  size_t written = 0;
  while (written < kEnough && stream->Write(chunk)) {
    written += chunk.size();
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_LT(written, kEnough) << "the queue grew without bound";
  EXPECT_TRUE(stream->closed());
  // And the connection is dropped, with what was queued.
  size_t received = 0;
  EXPECT_TRUE(raw.DrainUntilClosed(&received));
  EXPECT_LT(received, written);
}

TEST_F(HttpServerTest, HeadOfAStreamGetsTheHeadAlone) {
  Streams streams;
  StartServer(HttpServerOptions{}, StreamRoutes(streams));
  auto stream = std::make_shared<HttpStream>();
  ASSERT_TRUE(stream->Write(Event("1")));
  streams.Prepare(stream);
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = raw.ReadUntil("the end, which never comes");
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("Content-Length"), std::string::npos) << got;
  EXPECT_EQ(got.size(), got.find("\r\n\r\n") + 4) << got;
  EXPECT_TRUE(ClosesWithin(*stream, 2s));
}

TEST_F(HttpServerTest, StreamsOverTls) {
  std::string dir = ::testing::TempDir() + "/http-server-stream-tls";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  bool created = false;
  ASSERT_TRUE(LoadOrCreateSelfSigned(dir + "/c.pem", dir + "/k.pem", &created).ok());
  HttpServerOptions options;
  options.cert_file = dir + "/c.pem";
  options.key_file = dir + "/k.pem";
  Streams streams;
  StartServer(options, StreamRoutes(streams));
  auto stream = std::make_shared<HttpStream>();
  ASSERT_TRUE(stream->Write(Event("1")));
  streams.Prepare(stream);

  std::mutex mu;
  std::condition_variable changed;
  std::string got;  // GUARDED_BY(mu)
  std::optional<httplib::Result> result;
  std::thread client([&] {
    httplib::SSLClient tls("127.0.0.1", port());
    tls.enable_server_certificate_verification(false);
    result = tls.Get("/pool/events", [&](const char* data, size_t size) {
      std::lock_guard lock(mu);
      got.append(data, size);
      changed.notify_all();
      return true;
    });
  });
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, 5s, [&] { return got == Event("1"); })) << got;
  }
  EXPECT_TRUE(stream->Write(Event("2")));
  stream->Close();
  client.join();
  ASSERT_TRUE(result && *result) << httplib::to_string(result->error());
  EXPECT_EQ((*result)->status, 200);
  EXPECT_EQ((*result)->get_header_value("Content-Type"), "text/event-stream");
  std::lock_guard lock(mu);
  EXPECT_EQ(got, Event("1") + Event("2"));
}

TEST_F(HttpServerTest, StopEndsAStreamOverTlsAtOnce) {
  std::string dir = ::testing::TempDir() + "/http-server-stream-tls-stop";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  bool created = false;
  ASSERT_TRUE(LoadOrCreateSelfSigned(dir + "/c.pem", dir + "/k.pem", &created).ok());
  HttpServerOptions options;
  options.cert_file = dir + "/c.pem";
  options.key_file = dir + "/k.pem";
  Streams streams;
  StartServer(options, StreamRoutes(streams));
  std::atomic<bool> first_came{false};
  std::thread client([&] {
    httplib::SSLClient tls("127.0.0.1", port());
    tls.enable_server_certificate_verification(false);
    tls.Get("/events", [&](const char*, size_t) {
      first_came = true;
      return true;
    });
  });
  auto stream = streams.Get(0);
  ASSERT_TRUE(stream);
  ASSERT_TRUE(stream->Write(Event("1")));
  while (!first_came) std::this_thread::sleep_for(2ms);
  EXPECT_LT(StopServer(), 2s);
  client.join();
  EXPECT_TRUE(stream->closed());
}

}  // namespace
}  // namespace ferry
