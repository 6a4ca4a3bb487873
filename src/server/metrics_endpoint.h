// The file server's metrics listener: plain HTTP answering GET /metrics with
// what `render` returns, on its own thread, with a small connection cap.
// Everything else is 404 (405 for another method on /metrics).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/host_port.h"
#include "core/status.h"
#include "net/http_routes.h"
#include "net/http_server.h"

namespace ferry {

class MetricsEndpoint {
 public:
  // A scraper or two, and a person with curl: more is not needed, and the
  // cap keeps the listener from spending the server's descriptors.
  static constexpr int kMaxConnections = 8;

  // Binds `address` and serves until destroyed. `render` runs on a pool
  // thread, one request at a time or a few at once, and may wait (the job
  // queue's depth is read from its backend). UNAVAILABLE if the address is
  // taken.
  static Result<std::unique_ptr<MetricsEndpoint>> Start(const HostPort& address,
                                                        std::function<std::string()> render);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  int port() const { return server_->port(); }

  MetricsEndpoint() = default;  // for Start

 private:
  std::function<std::string()> render_;
  std::unique_ptr<HttpRoutes> routes_;
  std::unique_ptr<HttpServer> server_;
  std::thread serving_;
};

}  // namespace ferry
