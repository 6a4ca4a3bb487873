// The directory's REST edge (docs/directory-api.md): routes, JSON in and out,
// Status -> HTTP status with {"error": ...}, body limits and metrics, served
// by HttpServer over HTTPS (or plain HTTP behind a proxy).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "directory/address_rate_limiter.h"
#include "directory/directory_metrics.h"
#include "directory/directory_service.h"
#include "net/http_routes.h"
#include "net/http_server.h"

namespace ferry {

struct DirectoryHttpOptions {
  std::string host = "127.0.0.1";
  int port = 7080;  // 0 picks a free port
  bool plain_http = false;
  std::string cert_file;  // PEM, required unless plain_http
  std::string key_file;
  // The largest body of an announce that carries a token; every other body
  // (register, login, heartbeat, an announce without a token) may have
  // max_small_body bytes at most. Longer ones are refused with 413 as they
  // are read.
  size_t max_body = 16 << 20;
  size_t max_small_body = 4096;
  // Deepest nesting of arrays and objects in a request body (400 beyond).
  int max_json_depth = kDefaultMaxJsonDepth;
  // Registers and logins each source address (IPv6: /64) may send a minute,
  // all of them at once if it likes (429 with Retry-After beyond); 0: no
  // limit. `rate_limit_addresses` bounds the addresses remembered for each.
  int register_per_minute = 10;
  int login_per_minute = 120;
  size_t rate_limit_addresses = 65536;
  // The store is a library in this process (SQLite): reading it is CPU work
  // here, never a wait on a server, so every route that only reads (and the
  // heartbeat, held in memory until the next flush) is answered on the loop.
  // Otherwise (a database server) a search or heartbeat is answered on the
  // loop when the service holds its answer in memory (a cached search
  // answer, a cached peer), and on a pool thread when not.
  bool reads_answered_on_loop = false;
  // Event loops; 0: one per CPU this process may run on.
  int loops = 0;
  // Requests that may wait handled at once; idle connections hold none.
  int threads = 128;
  std::chrono::seconds idle_timeout{60};
};

class DirectoryHttpServer {
 public:
  // Binds the listening socket; UNAVAILABLE if the address is taken.
  static Result<std::unique_ptr<DirectoryHttpServer>> Bind(DirectoryService* service,
                                                           const DirectoryHttpOptions& options);
  // A server with no socket whose Handle() answers requests (fuzzing, tests).
  static std::unique_ptr<DirectoryHttpServer> Unbound(DirectoryService* service,
                                                      DirectoryHttpOptions options = {});
  ~DirectoryHttpServer();
  DirectoryHttpServer(const DirectoryHttpServer&) = delete;
  DirectoryHttpServer& operator=(const DirectoryHttpServer&) = delete;

  int port() const { return port_; }
  // Serves until Stop(); call from one thread.
  void Serve();
  // Stops serving; safe from any thread (and signal-watching threads).
  void Stop();

  // The routes, answering requests as the server does (routing, errors,
  // metrics); tests and the fuzz target call them without sockets.
  const HttpRoutes& routes() const { return routes_; }
  // Answers one request whole on the calling thread: routes().Answer().
  void Handle(const HttpRequest& request, HttpResponse& response) const;

  struct PassKey {
   private:
    friend class DirectoryHttpServer;
    PassKey() = default;
  };
  DirectoryHttpServer(PassKey, DirectoryService* service, DirectoryHttpOptions options);

 private:
  HttpRoutes MakeRoutes();
  void ReplyMetrics(HttpResponse& response);
  // The body limit of an announce with this head: max_body with a token.
  size_t AnnounceBodyLimit(const HttpRequest& head) const;

  DirectoryService* service_;
  DirectoryHttpOptions options_;
  DirectoryMetrics metrics_;
  AddressRateLimiter register_limiter_;
  AddressRateLimiter login_limiter_;
  HttpRoutes routes_;  // after what its handlers use
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
};

}  // namespace ferry
