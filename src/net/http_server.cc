#include "net/http_server.h"

#include <malloc.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "core/host_port.h"
#include "core/usable_cpus.h"
#include "net/http_message.h"
#include "net/http_routes.h"
#include "net/http_stream.h"

namespace ferry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// The server's side of an HttpStream while a connection sends it: attached
// to the connection's wake-up while it lives, dropped and detached when it
// ends. On the connection's loop.
class HttpStreamSending {
 public:
  HttpStreamSending(std::shared_ptr<HttpStream> stream, std::function<void(bool dropped)> wake)
      : stream_(std::move(stream)) {
    if (wake) stream_->Attach(std::move(wake));
  }
  ~HttpStreamSending() { stream_->Detach(); }
  HttpStreamSending(const HttpStreamSending&) = delete;
  HttpStreamSending& operator=(const HttpStreamSending&) = delete;

  auto Take() { return stream_->Take(); }
  void Drop() { stream_->Drop(); }

 private:
  std::shared_ptr<HttpStream> stream_;
};

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// What Stop() needs of a connection: to close it while it waits for a
// request, and to end the stream it sends. Only touched on the connection's
// loop; `socket` is null once the connection is done.
struct ConnectionControl {
  explicit ConnectionControl(tcp::socket* s) : socket(s) {}
  tcp::socket* socket;
  bool idle = false;
  bool closing = false;
  HttpStreamSending* sending = nullptr;  // while a streamed body is sent
};

// An event loop run by one thread, serving the connections given to it.
// Requests that run on the loop are handled in turn on that thread: a
// connection waits in the kernel, not in a queue between threads, and a
// request is read, handled and answered without a hand-over (with every
// loop's connections on one shared pool of threads, the hand-overs doubled
// the CPU per search).
struct EventLoop {
  asio::io_context io{1};
  std::atomic<int> connections{0};
};

}  // namespace

struct HttpServer::State {
  HttpServerOptions options;
  const HttpRoutes* routes = nullptr;
  // Destroyed in reverse: an accept still pending holds a socket of one of
  // the loops, and the loops' connections use the TLS context.
  std::optional<asio::ssl::context> tls;
  std::vector<std::unique_ptr<EventLoop>> loops;
  // Requests not answered on the loop. Destroyed before the loops, to which
  // it hands the requests back.
  std::optional<asio::thread_pool> pool;
  asio::io_context accept_loop{1};
  tcp::acceptor acceptor{accept_loop};
  int port = 0;
  // A trim of the heap pending on the accept loop (see ReleaseFreedMemory).
  asio::steady_timer trim_timer{accept_loop};
  std::atomic<bool> trim_pending{false};

  std::mutex mu;
  std::condition_variable changed;
  bool stop_requested = false;  // GUARDED_BY(mu)
  uint64_t next_id = 0;         // GUARDED_BY(mu)
  // Open connections, to close the idle ones on Stop().
  // Each with its loop's executor, where its control lives.
  std::map<uint64_t, std::pair<asio::any_io_executor, std::weak_ptr<ConnectionControl>>>
      connections;  // GUARDED_BY(mu)

  // Registers a connection; nothing once stopping (the caller closes it).
  std::optional<uint64_t> Register(asio::any_io_executor loop,
                                   const std::shared_ptr<ConnectionControl>& control) {
    std::lock_guard lock(mu);
    if (stop_requested) return std::nullopt;
    uint64_t id = next_id++;
    connections.emplace(id, std::pair(std::move(loop), control));
    return id;
  }
  void Unregister(uint64_t id) {
    std::lock_guard lock(mu);
    connections.erase(id);
    changed.notify_all();
  }
};

namespace {

using Refused = std::pair<int, std::string>;

// Bodies from this size on are released to the system once handled.
constexpr size_t kLargeBody = 1 << 20;

// glibc keeps freed blocks below its mmap threshold (16 MiB in ferry) in the
// heap, so the memory of large bodies handled at once stays resident after
// them. Trims the heap a second after a large body is freed: once for all
// the large bodies freed meanwhile, and at most once a second.
void ReleaseFreedMemory(HttpServer::State& state) {
  if (state.trim_pending.exchange(true)) return;
  asio::post(state.accept_loop, [&state] {
    state.trim_timer.expires_after(std::chrono::seconds(1));
    state.trim_timer.async_wait([&state](const error_code& ec) {
      state.trim_pending = false;
      if (!ec) malloc_trim(0);
    });
  });
}

std::string TooLarge(size_t limit) {
  return fmt::format("the request body is larger than {} bytes, this request's limit", limit);
}

std::string NotImplementedCoding(std::string_view coding) {
  return fmt::format(
      "Transfer-Encoding '{}' is not implemented; send Content-Length, or Transfer-Encoding: "
      "chunked alone",
      coding.substr(0, 64));
}

// The reply to a request that could not be read, or none: a connection that
// closed, timed out or failed (the socket's errors) has nobody to answer,
// and neither has one that closed halfway through a request. `body_limit` is
// the limit the request's body was read under.
std::optional<Refused> RefusalFor(const error_code& ec, size_t body_limit) {
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return std::nullopt;
  if (ec == http::error::body_limit) return Refused(413, TooLarge(body_limit));
  if (ec == http::error::header_limit) {
    return Refused(431, "the request headers are larger than the limit");
  }
  if (ec == http::error::bad_transfer_encoding) {
    return Refused(501,
                   "Transfer-Encoding is implemented as `chunked` alone, given once and without "
                   "Content-Length");
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
    return Refused(400, fmt::format("malformed HTTP request ({})", ec.message()));
  }
  return std::nullopt;
}

// The request's head as ferry's type: method, target, path, query and
// headers; the body comes once it is read.
HttpRequest HeadOf(const http::request<http::string_body>& in, const std::string& remote_addr,
                   int remote_port) {
  HttpRequest out = HttpRequest::For(std::string(in.method_string()), std::string(in.target()));
  out.headers.reserve(static_cast<size_t>(std::distance(in.begin(), in.end())));
  for (const auto& field : in) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.remote_addr = remote_addr;
  out.remote_port = remote_port;
  return out;
}

// Checks a request whose headers are read before its body is: its transfer
// coding must be `chunked` alone (anything else would leave its body
// unframed: 501), and its body within `body_limit` (413). Sets that limit on
// `parser`.
std::optional<Refused> RefusalBeforeBody(http::request_parser<http::string_body>& parser,
                                         size_t body_limit) {
  const auto& request = parser.get();
  auto codings = request.equal_range(http::field::transfer_encoding);
  if (codings.first != codings.second) {
    std::string_view coding = codings.first->value();
    if (std::next(codings.first) != codings.second || !beast::iequals(coding, "chunked")) {
      return Refused(501, NotImplementedCoding(coding));
    }
  }
  parser.body_limit(body_limit);
  if (auto length = parser.content_length(); length && *length > body_limit) {
    return Refused(413, TooLarge(body_limit));
  }
  return std::nullopt;
}

http::response<http::string_body> ToBeast(HttpResponse&& in, unsigned version, bool keep_alive,
                                          bool head) {
  http::response<http::string_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(in.status > 0 ? in.status : 500));
  for (auto& [name, value] : in.headers) out.insert(name, value);
  out.keep_alive(keep_alive);
  out.content_length(in.body.size());
  // A HEAD reply says how long the body would be, and sends none.
  if (!head) out.body() = std::move(in.body);
  return out;
}

http::response<http::string_body> Refusal(int status, const std::string& message,
                                          unsigned version) {
  http::response<http::string_body> out;
  out.version(version == 10 ? 10 : 11);
  out.result(static_cast<unsigned>(status));
  out.set(http::field::content_type, "application/json");
  out.keep_alive(false);
  out.body() = nlohmann::json{{"error", message}}.dump();
  out.prepare_payload();
  return out;
}

// The head of a streamed response: no Content-Length, and the body ends
// when the connection closes (HTTP/1.0 and 1.1 alike).
http::response<http::empty_body> StreamHead(const HttpResponse& in, unsigned version) {
  http::response<http::empty_body> out;
  out.version(version);
  out.result(static_cast<unsigned>(in.status > 0 ? in.status : 500));
  for (const auto& [name, value] : in.headers) out.insert(name, value);
  out.erase(http::field::content_length);
  out.erase(http::field::transfer_encoding);
  out.keep_alive(false);
  return out;
}

// Wakes a connection's SendWritten from any thread, through the loop that
// the connection and the timer belong to.
struct StreamWake {
  explicit StreamWake(beast::tcp_stream& s) : socket(s), timer(s.get_executor()) {}
  beast::tcp_stream& socket;
  asio::steady_timer timer;  // waited on while nothing is queued
};

std::function<void(bool dropped)> WakeUpFor(const std::shared_ptr<StreamWake>& wake) {
  return [executor = wake->socket.get_executor(),
          weak = std::weak_ptr<StreamWake>(wake)](bool dropped) {
    asio::post(executor, [weak, dropped] {
      auto w = weak.lock();
      if (!w) return;  // the connection is done
      w->timer.cancel();
      // Ends at once a write the client does not read, and WatchForHangUp.
      if (dropped) w->socket.cancel();
    });
  };
}

// Sends what is written to the stream as it is written, until it ends (sets
// `ended`), is dropped, or a write fails or outlasts `io_timeout`; then
// stops WatchForHangUp.
template <typename Stream>
asio::awaitable<void> SendWritten(Stream& stream, HttpStreamSending& sending, StreamWake& wake,
                                  std::chrono::milliseconds io_timeout, bool& ended) {
  auto& socket = beast::get_lowest_layer(stream);
  for (;;) {
    auto taken = sending.Take();
    if (taken.dropped) break;
    if (!taken.data.empty()) {
      // Sets the write's deadline alone: WatchForHangUp's read is pending.
      socket.expires_after(io_timeout);
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(taken.data), kTuple);
      if (ec) {
        sending.Drop();
        break;
      }
    }
    if (taken.ended) {
      ended = true;
      break;
    }
    if (taken.data.empty()) {
      // Until Write, Close or Drop cancels it (see WakeUpFor).
      wake.timer.expires_at(asio::steady_timer::time_point::max());
      co_await wake.timer.async_wait(kTuple);
    }
  }
  socket.cancel();
}

// Reads and ignores what the client sends while its stream is sent, so that
// a client that hangs up is noticed at once, even while nothing is written;
// then drops the stream. SendWritten ends it by cancelling the read.
template <typename Stream>
asio::awaitable<void> WatchForHangUp(Stream& stream, HttpStreamSending& sending) {
  auto& socket = beast::get_lowest_layer(stream);
  std::array<char, 512> ignored;
  for (;;) {
    // No deadline for the read; SendWritten sets each write's own.
    socket.expires_never();
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(ignored), kTuple);
    if (ec) break;
  }
  sending.Drop();
}

// Answers with a streamed body: the head, then what is written to the
// stream as it is written, until it ends, the client goes away, a write
// fails, or the server stops. A HEAD request gets the head alone. Leaves the
// socket closed unless the body ended in order.
template <typename Stream>
asio::awaitable<void> SendStream(HttpServer::State& state, Stream& stream,
                                 ConnectionControl& control, HttpResponse response,
                                 unsigned version, bool head) {
  using namespace asio::experimental::awaitable_operators;
  auto& socket = beast::get_lowest_layer(stream);
  auto wake = std::make_shared<StreamWake>(socket);
  HttpStreamSending sending(std::move(response.stream), head ? nullptr : WakeUpFor(wake));
  // For Stop(), while `sending` lives.
  struct Registration {
    ConnectionControl& owner;
    ~Registration() { owner.sending = nullptr; }
  } registration{control};
  control.sending = &sending;
  bool ended = false;
  if (!control.closing) {
    auto reply = StreamHead(response, version);
    socket.expires_after(state.options.io_timeout);
    auto [ec, n] = co_await http::async_write(stream, reply, kTuple);
    if (!ec && head) {
      ended = true;
    } else if (!ec) {
      co_await (WatchForHangUp(stream, sending) &&
                SendWritten(stream, sending, *wake, state.options.io_timeout, ended));
    }
  }
  // Dropped: nothing more is sent, not even a TLS close_notify.
  if (!ended) socket.close();
}

std::string RemoteAddress(const tcp::socket& socket, int* port) {
  error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "";
  *port = endpoint.port();
  auto address = endpoint.address();
  // An IPv4 client of a dual-stack socket reads as 127.0.0.1, not ::ffff:...
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

// One connection's requests, in turn, until it closes, fails, goes idle past
// the timeout, or the server stops.
template <typename Stream>
asio::awaitable<void> ServeRequests(HttpServer::State& state, Stream& stream,
                                    ConnectionControl& control, const std::string& remote_addr,
                                    int remote_port) {
  const HttpServerOptions& options = state.options;
  auto& socket = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    // The body's limit depends on the head, and is set once that is read.
    parser.body_limit(boost::none);
    parser.header_limit(static_cast<uint32_t>(options.max_header));
    if (control.closing) co_return;
    control.idle = true;
    socket.expires_after(options.idle_timeout);
    auto [header_error, header_bytes] =
        co_await http::async_read_header(stream, buffer, parser, kTuple);
    control.idle = false;
    unsigned version = parser.is_header_done() ? parser.get().version() : 11;
    size_t body_limit = options.max_body;
    auto refuse = [&](const Refused& refusal) -> asio::awaitable<void> {
      auto reply = Refusal(refusal.first, refusal.second, version);
      socket.expires_after(options.io_timeout);
      co_await http::async_write(stream, reply, kTuple);
    };
    if (header_error) {
      if (auto refusal = RefusalFor(header_error, body_limit)) co_await refuse(*refusal);
      co_return;
    }
    auto& request = parser.get();
    // The route is matched once, here: it sets the body limit, and where the
    // request is answered.
    HttpRequest in = HeadOf(request, remote_addr, remote_port);
    const RouteMatch match = state.routes->Match(in.method, in.path);
    body_limit = std::min(options.max_body, state.routes->BodyLimit(match, in));
    if (auto refusal = RefusalBeforeBody(parser, body_limit)) {
      co_await refuse(*refusal);
      co_return;
    }
    if (beast::iequals(request[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, request.version()};
      socket.expires_after(options.io_timeout);
      auto [ec, n] = co_await http::async_write(stream, go_on, kTuple);
      if (ec) co_return;
    }
    if (!parser.is_done()) {
      socket.expires_after(options.io_timeout);
      auto [body_error, body_bytes] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (body_error) {
        if (auto refusal = RefusalFor(body_error, body_limit)) co_await refuse(*refusal);
        co_return;
      }
    }
    const bool keep_alive = request.keep_alive();
    const bool head = request.method() == http::verb::head;
    version = request.version();
    in.body = std::move(parser.release().body());
    HttpResponse out;
    socket.expires_never();
    if (PoolWork rest = state.routes->StartOnLoop(match, in, out)) {
      // Resumes here, on the loop, once a pool thread has finished it.
      co_await asio::co_spawn(
          state.pool->get_executor(),
          [&]() -> asio::awaitable<void> {
            rest(out);
            co_return;
          },
          asio::use_awaitable);
    }
    if (in.body.size() >= kLargeBody) {
      std::string().swap(in.body);
      ReleaseFreedMemory(state);
    }
    if (out.stream) {
      co_await SendStream(state, stream, control, std::move(out), version, head);
      co_return;
    }
    auto reply = ToBeast(std::move(out), version, keep_alive, head);
    socket.expires_after(options.io_timeout);
    auto [write_error, written] = co_await http::async_write(stream, reply, kTuple);
    if (write_error || !keep_alive) co_return;
  }
}

template <typename Stream>
asio::awaitable<void> Close(Stream& stream) {
  error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}

asio::awaitable<void> Close(beast::ssl_stream<beast::tcp_stream>& stream) {
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(kTuple);
}

template <typename Stream>
struct Connection {
  template <typename... Args>
  explicit Connection(Args&&... args)
      : stream(std::forward<Args>(args)...),
        control(std::make_shared<ConnectionControl>(&beast::get_lowest_layer(stream).socket())) {}
  Stream stream;
  std::shared_ptr<ConnectionControl> control;
};

template <typename Stream>
asio::awaitable<void> ServeConnection(HttpServer::State& state, EventLoop& loop,
                                      std::shared_ptr<Connection<Stream>> connection) {
  auto& stream = connection->stream;
  auto& socket = beast::get_lowest_layer(stream);
  auto id = state.Register(socket.get_executor(), connection->control);
  if (!id) {
    --loop.connections;
    co_return;
  }
  int remote_port = 0;
  const std::string remote_addr = RemoteAddress(socket.socket(), &remote_port);
  try {
    bool ready = true;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      connection->control->idle = true;  // a handshake that never comes is idle too
      socket.expires_after(state.options.io_timeout);
      auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
      ready = !ec;
    }
    if (ready) {
      co_await ServeRequests(state, stream, *connection->control, remote_addr, remote_port);
      co_await Close(stream);
    }
  } catch (const std::exception& e) {
    spdlog::warn("http: connection from {} failed: {}", remote_addr, e.what());
  }
  connection->control->idle = false;
  connection->control->socket = nullptr;
  state.Unregister(*id);
  --loop.connections;
}

asio::awaitable<void> Accept(HttpServer::State& state) {
  asio::steady_timer pause(state.accept_loop);
  for (;;) {
    // The loop with the fewest connections takes the next one.
    EventLoop* loop = state.loops.front().get();
    for (const auto& l : state.loops) {
      if (l->connections.load() < loop->connections.load()) loop = l.get();
    }
    auto executor = loop->io.get_executor();
    auto [ec, socket] = co_await state.acceptor.async_accept(executor, kTuple);
    if (!state.acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of file descriptors, most likely: wait a moment instead of spinning.
      spdlog::warn("http: cannot accept a connection: {}", ec.message());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(kTuple);
      continue;
    }
    error_code ignored;
    if (state.options.max_connections > 0) {
      int open = 0;
      for (const auto& l : state.loops) open += l->connections.load();
      if (open >= state.options.max_connections) {
        // Reset, not closed in order: the peer learns at once, and no
        // TIME_WAIT is left here.
        socket.set_option(asio::socket_base::linger(true, 0), ignored);
        socket.close(ignored);
        continue;
      }
    }
    socket.set_option(tcp::no_delay(true), ignored);
    ++loop->connections;
    if (state.tls) {
      using Tls = beast::ssl_stream<beast::tcp_stream>;
      auto connection = std::make_shared<Connection<Tls>>(std::move(socket), *state.tls);
      asio::co_spawn(executor, ServeConnection(state, *loop, std::move(connection)),
                     asio::detached);
    } else {
      auto connection = std::make_shared<Connection<beast::tcp_stream>>(std::move(socket));
      asio::co_spawn(executor, ServeConnection(state, *loop, std::move(connection)),
                     asio::detached);
    }
  }
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Bind(const HttpServerOptions& options,
                                                     const HttpRoutes* routes) {
  auto state = std::make_unique<State>();
  state->options = options;
  const int loops = options.loops > 0 ? options.loops : UsableCpus();
  for (int i = 0; i < loops; ++i) state->loops.push_back(std::make_unique<EventLoop>());
  state->pool.emplace(static_cast<size_t>(std::max(1, options.threads)));
  state->routes = routes;
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    auto& tls = state->tls.emplace(asio::ssl::context::tls_server);
    error_code ec;
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1,
                    ec);
    if (!ec) tls.use_certificate_chain_file(options.cert_file, ec);
    if (!ec) tls.use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
    if (ec) {
      return Status::InvalidArgument(fmt::format("cannot use the TLS certificate {} and key {}: {}",
                                                 options.cert_file, options.key_file,
                                                 ec.message()));
    }
  }
  const std::string where = HostPort{options.host, options.port}.ToString();
  // "" and "*" are every address: IPv6 and, through a dual-stack socket, IPv4.
  const std::string host = options.host.empty() || options.host == "*" ? "::" : options.host;
  error_code ec;
  tcp::resolver resolver(state->accept_loop);
  auto endpoints = resolver.resolve(host, std::to_string(options.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return Status::InvalidArgument(fmt::format("cannot listen on {}: {}", where, ec.message()));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto& acceptor = state->acceptor;
  if (!acceptor.open(endpoint.protocol(), ec) &&
      !acceptor.set_option(tcp::acceptor::reuse_address(true), ec) &&
      !acceptor.bind(endpoint, ec) &&
      !acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
    state->port = acceptor.local_endpoint().port();
    return std::make_unique<HttpServer>(std::move(state));
  }
  return Status::Unavailable(fmt::format(
      "cannot listen on {} (in use, or not an address of this machine): {}", where, ec.message()));
}

int HttpServer::port() const { return state_->port; }

void HttpServer::Serve() {
  State& state = *state_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  for (auto& loop : state.loops) {
    work.push_back(asio::make_work_guard(loop->io));
    threads.emplace_back([&io = loop->io] { io.run(); });
  }
  asio::co_spawn(state.accept_loop, Accept(state), asio::detached);
  threads.emplace_back([&state] { state.accept_loop.run(); });
  {
    std::unique_lock lock(state.mu);
    state.changed.wait(lock, [&] { return state.stop_requested; });
    // Idle connections were closed by Stop(); the rest finish what they
    // were doing, for a while.
    state.changed.wait_for(lock, state.options.stop_grace,
                           [&] { return state.connections.empty(); });
  }
  work.clear();
  state.accept_loop.stop();
  for (auto& loop : state.loops) loop->io.stop();
  // Requests still being handled finish; what they hand back to a stopped
  // loop is dropped with it.
  state.pool->join();
  for (auto& t : threads) t.join();
}

void HttpServer::Stop() {
  State& state = *state_;
  std::vector<std::pair<asio::any_io_executor, std::shared_ptr<ConnectionControl>>> open;
  {
    std::lock_guard lock(state.mu);
    if (state.stop_requested) return;
    state.stop_requested = true;
    for (auto& [id, entry] : state.connections) {
      if (auto control = entry.second.lock()) open.emplace_back(entry.first, std::move(control));
    }
    state.changed.notify_all();
  }
  asio::post(state.accept_loop, [&state] {
    error_code ignored;
    state.acceptor.close(ignored);
  });
  for (auto& entry : open) {
    asio::post(entry.first, [control = entry.second] {
      control->closing = true;
      if (control->idle && control->socket != nullptr) {
        error_code ignored;
        control->socket->cancel(ignored);
      }
      if (control->sending != nullptr) control->sending->Drop();
    });
  }
}

}  // namespace ferry
