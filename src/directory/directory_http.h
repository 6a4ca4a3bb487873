// The directory's REST edge (docs/directory-api.md): routes, JSON in and out,
// Status -> HTTP status with {"error": ...}, body limits and metrics, served
// by AsyncHttpServer over HTTPS (or plain HTTP behind a proxy).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "directory/address_rate_limiter.h"
#include "directory/async_http_server.h"
#include "directory/directory_metrics.h"
#include "directory/directory_service.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

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
  // here, never a wait on a server, so requests that only read are answered
  // on `loops` event loops and the rest on `threads` threads. Otherwise (a
  // database server) the loops answer what the service holds in memory
  // (cached search answers, heartbeats of cached peers), and the threads the
  // rest.
  bool store_in_process = false;
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

  // Answers one request as the server would (routing, errors, metrics). The
  // fuzz target calls it without sockets.
  void Handle(const httplib::Request& request, httplib::Response& response);
  // Whether Handle() answers `request` with CPU work alone: reads of a store
  // in this process (searches, heartbeats, listings), or a refusal. Hashing a
  // password, writing to the store, or asking a database server may wait.
  bool AnswersWithoutWaiting(const httplib::Request& request) const;
  // Answers `request` as an event loop does: if it can without waiting (with
  // a database server, from what the service holds in memory), and returns
  // true; false leaves `response` untouched, for Handle() on a thread.
  bool AnswerOnLoop(const httplib::Request& request, httplib::Response& response);

  struct PassKey {
   private:
    friend class DirectoryHttpServer;
    PassKey() = default;
  };
  DirectoryHttpServer(PassKey, DirectoryService* service, DirectoryHttpOptions options);

 private:
  // Any way Handle() may answer, or from what the service holds in memory
  // alone (an event loop's way when the store is a database server).
  enum class Answering { kAnyWay, kFromMemory };
  // Dispatch, with errors and metrics; false as Dispatch.
  bool Answer(const httplib::Request& request, httplib::Response& response, Answering how);
  // False, with `response` untouched, when `how` is kFromMemory and the
  // answer needs the store.
  bool Dispatch(const httplib::Request& request, httplib::Response& response, std::string* route,
                Answering how);
  bool DispatchFromMemory(const httplib::Request& request, httplib::Response& response,
                          const std::string& route);
  void DispatchAnyWay(const httplib::Request& request, httplib::Response& response,
                      const std::string& route, const std::string& path_peer_id);
  void ReplyMetrics(httplib::Response& response);
  // The body limit of a request with this head (AsyncHttpOptions::body_limit).
  size_t BodyLimit(const AsyncHttpOptions::RequestHead& head) const;

  DirectoryService* service_;
  DirectoryHttpOptions options_;
  DirectoryMetrics metrics_;
  AddressRateLimiter register_limiter_;
  AddressRateLimiter login_limiter_;
  std::unique_ptr<AsyncHttpServer> http_;
  int port_ = 0;
};

}  // namespace ferry
