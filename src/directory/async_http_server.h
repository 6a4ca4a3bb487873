// HTTP/1.1 over TLS or plain TCP on Boost.Asio/Beast, for the directory.
//
// `loops` event loops, each run by one thread; a connection belongs to the
// loop that had the fewest when it came, and is a coroutine waiting in the
// kernel there, not a thread: idle keep-alive connections cost no CPU, and
// any number of them may be open. (cpp-httplib's server, used before, held a
// thread per connection and polled each idle one every 11 ms: 32 idle
// clients cost 5,700 context switches and 12% of a core each second, and the
// 129th connection waited for one of the first 128 to close.)
//
// A request is handled on its connection's loop, in turn with the loop's
// other connections: it is read, handled and answered without a hand-over
// between threads. When only some requests can be answered with CPU work
// alone (`answer_on_loop` answers those), one loop per CPU works through
// them in the order they came, and the others, which may wait (a database
// server, password hashing), are handled on one of `threads` threads, so
// that they hold up nobody else. Without `answer_on_loop`, every request is
// handled on its loop: then the loops are the requests handled at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace ferry {

struct AsyncHttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port
  // Both empty: plain HTTP. Otherwise PEM files for TLS.
  std::string cert_file;
  std::string key_file;
  // The largest body of any request; `body_limit` may lower it per request.
  size_t max_body = 16 << 20;
  size_t max_header = 16 << 10;
  // What a request's body limit may depend on, read from its headers.
  struct RequestHead {
    std::string_view method;
    std::string_view target;  // path and query as sent
    std::string_view authorization;
  };
  // The largest body a request may have, from its head (at most max_body);
  // null: max_body for every request. Called on the loop once the headers are
  // read. A longer body is refused with 413 while it is read, before it is
  // buffered: at once when Content-Length says so, or as a chunked body
  // crosses the limit.
  std::function<size_t(const RequestHead&)> body_limit;
  // Event loops; 0: one per CPU this process may run on.
  int loops = 0;
  // Answers a request on its loop if it can without waiting for anything but
  // a CPU, and returns true; false leaves the response untouched, and the
  // handler answers the request on one of `threads`. Null: the handler
  // answers every request on its loop.
  std::function<bool(const httplib::Request&, httplib::Response&)> answer_on_loop;
  // Threads for the requests not answered on the loops: how many of those
  // are handled at once.
  int threads = 16;
  // From the end of a reply (or the connection) to the end of the next
  // request's headers.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // To read a request's body, send a reply, or finish a TLS handshake.
  std::chrono::milliseconds io_timeout{std::chrono::seconds(30)};
  // Stop() waits this long for requests being handled or sent.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(10)};
};

// Requests are refused with {"error": ...} and the connection closed when
// they cannot be read: 400 (malformed), 413 (body over its limit), 431
// (headers over max_header), 501 (a Transfer-Encoding other than `chunked`
// alone, whose body the server could not frame).
class AsyncHttpServer {
 public:
  // The request as cpp-httplib parses it (path decoded, query in params), so
  // that the handler and the fuzz target share one request type.
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Binds and listens; UNAVAILABLE if the address is taken, INVALID_ARGUMENT
  // if the certificate or key cannot be used.
  static Result<std::unique_ptr<AsyncHttpServer>> Bind(const AsyncHttpOptions& options,
                                                       Handler handler);
  ~AsyncHttpServer();
  AsyncHttpServer(const AsyncHttpServer&) = delete;
  AsyncHttpServer& operator=(const AsyncHttpServer&) = delete;

  int port() const;
  // Serves until Stop(), then returns once the requests in hand are answered
  // (or stop_grace has passed). Call from one thread.
  void Serve();
  // Stops accepting and closes idle connections; safe from any thread.
  void Stop();

  struct State;
  explicit AsyncHttpServer(std::unique_ptr<State> state);

 private:
  std::unique_ptr<State> state_;
};

}  // namespace ferry
