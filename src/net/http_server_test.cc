#include "net/http_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>  // the client side of these tests
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/http_routes.h"
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

}  // namespace
}  // namespace ferry
