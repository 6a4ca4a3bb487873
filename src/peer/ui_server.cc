#include "peer/ui_server.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "peer/ui_json.h"
#include "peer/ui_routes.h"

namespace ferry {

UiServer::UiServer(const UiServerOptions& options, UiParts parts)
    : options_(options), parts_(std::move(parts)) {}

Result<std::unique_ptr<UiServer>> UiServer::Start(const UiServerOptions& options,
                                                  const std::string& secret, UiParts parts) {
  auto ui = std::make_unique<UiServer>(options, std::move(parts));
  HttpServerOptions http;
  http.host = options.host;
  http.port = options.port;
  http.max_body = kUiBodyLimit;
  http.loops = 1;
  http.threads = 4;
  // A browser opens a few connections per host, a script one or two: the
  // cap keeps any local process from spending the peer's descriptors.
  http.max_connections = kUiMaxConnections;
  http.stop_grace = std::chrono::seconds(2);
  // The routes are made once the port, which the Host check needs, is known;
  // nothing is served before Serve().
  ui->routes_ = std::make_unique<HttpRoutes>();
  auto server = HttpServer::Bind(http, ui->routes_.get());
  if (!server.ok()) {
    return Status(server.status().code(),
                  fmt::format("the web UI: {}; choose another address with --ui-listen HOST:PORT, "
                              "or --ui-listen off",
                              server.status().message()));
  }
  ui->server_ = std::move(server).value();
  ui->access_ = std::make_unique<UiAccess>(secret, options.host, ui->server_->port());
  *ui->routes_ = MakeUiRoutes(*ui->access_, ui->parts_);
  ui->serving_ = std::thread([s = ui->server_.get()] { s->Serve(); });
  ui->ticker_ = std::thread([u = ui.get()] { u->Tick(); });
  return ui;
}

UiServer::~UiServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_all();
  }
  if (ticker_.joinable()) ticker_.join();
  if (server_) server_->Stop();
  if (serving_.joinable()) serving_.join();
}

void UiServer::SharesChanged() {
  std::lock_guard lock(mu_);
  shares_changed_ = true;
}

void UiServer::Tick() {
  std::string last_uploads = Dump(nlohmann::json{{"uploads", nlohmann::json::array()}});
  std::string last_shares;
  auto next_keep_alive = std::chrono::steady_clock::now() + options_.keep_alive;
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, options_.tick, [&] { return stopping_; })) {
    // With no page open there is nobody to tell; a page that opens gets
    // all of it in its snapshot.
    if (parts_.events->pages() == 0) continue;
    const bool shares_changed = std::exchange(shares_changed_, false);
    lock.unlock();
    std::string uploads =
        Dump(nlohmann::json{{"uploads", UploadsJson(parts_.uploads->Snapshot())}});
    if (uploads != last_uploads) {
      parts_.events->Publish("uploads", uploads);
      last_uploads = std::move(uploads);
    }
    const IndexingProgress indexing = parts_.index->Progress();
    auto files = parts_.index->Count();
    std::string shares = Dump(
        nlohmann::json{{"files", files.ok() ? *files : 0}, {"indexing", IndexingJson(indexing)}});
    if (shares_changed || shares != last_shares) {
      parts_.events->Publish("shares", shares);
      last_shares = std::move(shares);
    }
    if (std::chrono::steady_clock::now() >= next_keep_alive) {
      parts_.events->KeepAlive();
      next_keep_alive = std::chrono::steady_clock::now() + options_.keep_alive;
    }
    lock.lock();
  }
}

}  // namespace ferry
