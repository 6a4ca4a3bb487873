#include "server/metrics_endpoint.h"

#include <utility>

#include <fmt/format.h>

#include "net/prometheus_text.h"

namespace ferry {

Result<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const HostPort& address, std::function<std::string()> render) {
  auto endpoint = std::make_unique<MetricsEndpoint>();
  endpoint->render_ = std::move(render);
  HttpRouteOptions route_options;
  route_options.name = "metrics";
  route_options.body_limit = 0;
  endpoint->routes_ = std::make_unique<HttpRoutes>(std::move(route_options));
  endpoint->routes_->Add(
      {"GET",
       "/metrics",
       /*answered_on_loop=*/false,
       [e = endpoint.get()](const HttpRequest&, const PathParams&, HttpResponse& res) -> PoolWork {
         res.status = 200;
         res.SetBody(e->render_(), kPrometheusContentType);
         return {};
       },
       {}});
  HttpServerOptions http;
  http.host = address.host;
  http.port = address.port;
  http.max_body = 0;
  http.loops = 1;
  http.threads = 2;
  http.max_connections = kMaxConnections;
  http.stop_grace = std::chrono::seconds(2);
  auto server = HttpServer::Bind(http, endpoint->routes_.get());
  if (!server.ok()) {
    return Status(server.status().code(), fmt::format("--metrics-listen {}: {}", address.ToString(),
                                                      server.status().message()));
  }
  endpoint->server_ = std::move(server).value();
  endpoint->serving_ = std::thread([s = endpoint->server_.get()] { s->Serve(); });
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  if (server_) server_->Stop();
  if (serving_.joinable()) serving_.join();
}

}  // namespace ferry
