// The directory's REST edge (docs/directory-api.md): routes, JSON in and out,
// Status -> HTTP status with {"error": ...}, body limits and metrics, served
// by AsyncHttpServer over HTTPS (or plain HTTP behind a proxy).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
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
  size_t max_body = 16 << 20;
  // Requests handled at once; idle connections hold none.
  int threads = 128;
  std::chrono::seconds idle_timeout{60};
};

class DirectoryHttpServer {
 public:
  // Binds the listening socket; UNAVAILABLE if the address is taken.
  static Result<std::unique_ptr<DirectoryHttpServer>> Bind(DirectoryService* service,
                                                           const DirectoryHttpOptions& options);
  // A server with no socket whose Handle() answers requests (fuzzing, tests).
  static std::unique_ptr<DirectoryHttpServer> Unbound(DirectoryService* service);
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

  struct PassKey {
   private:
    friend class DirectoryHttpServer;
    PassKey() = default;
  };
  DirectoryHttpServer(PassKey, DirectoryService* service, DirectoryHttpOptions options);

 private:
  void Dispatch(const httplib::Request& request, httplib::Response& response, std::string* route);

  DirectoryService* service_;
  DirectoryHttpOptions options_;
  DirectoryMetrics metrics_;
  std::unique_ptr<AsyncHttpServer> http_;
  int port_ = 0;
};

}  // namespace ferry
