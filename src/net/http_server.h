// HTTP/1.1 over TLS or plain TCP on Boost.Asio/Beast, answering from a
// route table (net/http_routes.h).
//
// `loops` event loops, each run by one thread; a connection belongs to the
// loop that had the fewest when it came, and is a coroutine waiting in the
// kernel there, not a thread: idle keep-alive connections cost no CPU, and
// any number of them may be open.
//
// A request's route is matched once, when its headers are read; that match
// chooses its body limit and where it is answered. A route answered on the
// loop is read, handled and answered on its connection's loop without a
// hand-over between threads; the others, which may wait (a database server,
// password hashing), are handled on one of `threads` pool threads, so that
// they hold up nobody else.
//
// A handler may answer with a stream (HttpResponse::stream, net/http_stream.h):
// its connection then sends what is written to it as it is written, waiting
// on its loop between writes, and closes when the stream ends.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry {

class HttpRoutes;

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // "" or "*": every address (IPv6 and IPv4)
  int port = 0;                    // 0 picks a free port
  // Both empty: plain HTTP. Otherwise PEM files for TLS.
  std::string cert_file;
  std::string key_file;
  // The largest body of any request, whatever its route's limit.
  size_t max_body = 16 << 20;
  size_t max_header = 16 << 10;
  // Event loops; 0: one per CPU this process may run on.
  int loops = 0;
  // Pool threads for the requests not answered on the loop: how many of
  // those are handled at once.
  int threads = 16;
  // Connections open at once; one more is reset as soon as it is accepted,
  // before any TLS or HTTP work. 0: no limit (the descriptor limit's).
  int max_connections = 0;
  // From the end of a reply (or the connection) to the end of the next
  // request's headers. A stream being sent is not idle.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // To read a request's body, send a reply (or each write of a stream), or
  // finish a TLS handshake.
  std::chrono::milliseconds io_timeout{std::chrono::seconds(30)};
  // Stop() waits this long for requests being handled or sent.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(10)};
};

// Requests are refused with {"error": ...} and the connection closed when
// they cannot be read: 400 (malformed), 413 (body over its route's limit,
// refused before the body is buffered: at once when Content-Length says so,
// or as a chunked body crosses the limit), 431 (headers over max_header), 501
// (a Transfer-Encoding other than `chunked` alone, whose body the server
// could not frame).
class HttpServer {
 public:
  // Binds and listens; UNAVAILABLE if the address is taken, INVALID_ARGUMENT
  // if the certificate or key cannot be used. REQUIRES: `routes` outlives
  // the server.
  static Result<std::unique_ptr<HttpServer>> Bind(const HttpServerOptions& options,
                                                  const HttpRoutes* routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  // Serves until Stop(), then returns once the requests in hand are answered
  // (or stop_grace has passed). Call from one thread.
  void Serve();
  // Stops accepting, closes idle connections and ends streams at once (what
  // is queued in them is not sent); safe from any thread.
  void Stop();

  struct State;
  explicit HttpServer(std::unique_ptr<State> state);

 private:
  std::unique_ptr<State> state_;
};

}  // namespace ferry
