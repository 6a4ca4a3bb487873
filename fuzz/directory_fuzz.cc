// libFuzzer target for the directory's request handling: routing, JSON bodies,
// query parameters and the service behind them, over a real SQLite store.
//
// Input: byte 0 picks a route and method, byte 1 the credentials, then the
// query string (or the peer id in the path) up to the first '\n', then the body.
// Any answer is fine except a crash, a 500, or a body that is not JSON. Every
// body also goes through ParseStrictJson at a small and the default depth
// limit: what it accepts must be what nlohmann::json::parse builds, no deeper
// than the limit.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/secrets.h"
#include "directory/directory_http.h"
#include "directory/directory_requests.h"
#include "directory/directory_service.h"
#include "directory/sqlite_directory_store.h"
#include "directory/strict_json.h"
#include "net/http_message.h"
#include "net/http_routes.h"

namespace {

struct Target {
  const char* method;
  const char* path;
};
constexpr Target kTargets[] = {
    {"POST", "/api/v1/register"}, {"POST", "/api/v1/login"},    {"POST", "/api/v1/logout"},
    {"GET", "/api/v1/verify"},    {"POST", "/api/v1/announce"}, {"POST", "/api/v1/heartbeat"},
    {"GET", "/api/v1/peers"},     {"GET", "/api/v1/search"},    {"GET", "/healthz"},
    {"GET", "/metrics"},          {"DELETE", "/api/v1/peers/"}, {"GET", "/api/v1/peers/"},
    {"PUT", "/api/v1/announce"},  {"GET", "/api/v1/nowhere"},   {"POST", "/api/v1/peers"},
    {"GET", "/api/v1/sources"},   {"POST", "/api/v1/tickets"},  {"POST", "/api/v1/tickets/check"},
};

struct World {
  std::unique_ptr<ferry::DirectoryService> service;
  std::unique_ptr<ferry::DirectoryHttpServer> http;
  std::string token;
  std::string peer_id;
};

World& TheWorld() {
  static World* world = [] {
    spdlog::set_level(spdlog::level::off);
    if (!ferry::InitCrypto().ok()) std::abort();
    char dir[] = "/tmp/ferry-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    auto store = ferry::OpenSqliteDirectoryStore(std::string(dir) + "/directory.db");
    if (!store.ok()) std::abort();
    auto* w = new World;  // lives for the whole fuzzing run
    ferry::DirectoryOptions options;
    options.heartbeat_interval = std::chrono::seconds(3600);
    w->service = std::make_unique<ferry::DirectoryService>(std::move(store).value(), options);
    if (!w->service->Register({"fuzz", "fuzz-password"}).ok()) std::abort();
    auto login = w->service->Login({"fuzz", "fuzz-password"}, "127.0.0.1");
    if (!login.ok()) std::abort();
    w->token = login->token;
    ferry::Announcement announce;
    announce.address = "127.0.0.1:7443";
    announce.cert_sha256 = std::string(64, 'a');
    announce.files =
        std::vector<ferry::SharedFile>{{"music/song.ogg", 5, std::string(64, 'b'), 1, ""}};
    auto peer = w->service->Announce(w->token, announce);
    if (!peer.ok()) std::abort();
    w->peer_id = peer->peer_id;
    w->http = ferry::DirectoryHttpServer::Unbound(w->service.get());
    return w;
  }();
  return *world;
}

// Levels of arrays and objects in `value` (a scalar is 0).
int Depth(const nlohmann::json& value) {
  if (!value.is_structured()) return 0;
  int deepest = 0;
  for (const auto& item : value) deepest = std::max(deepest, Depth(item));
  return deepest + 1;
}

void CheckStrictJson(std::string_view body, int max_depth) {
  auto strict = ferry::ParseStrictJson(body, max_depth);
  if (!strict.ok()) return;
  if (Depth(*strict) > max_depth || !nlohmann::json::accept(body) ||
      *strict != nlohmann::json::parse(body)) {
    std::fprintf(stderr, "ParseStrictJson accepted %s as %s\n", std::string(body).c_str(),
                 strict->dump().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  World& world = TheWorld();
  const Target& target = kTargets[data[0] % std::size(kTargets)];
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  auto newline = rest.find('\n');
  std::string_view query = rest.substr(0, newline);
  std::string_view body = newline == std::string_view::npos ? "" : rest.substr(newline + 1);
  CheckStrictJson(body, 3);
  CheckStrictJson(body, ferry::kDefaultMaxJsonDepth);

  // Register and login spend ~50 ms in Argon2id per valid input, which would
  // starve the fuzzer; their bodies go through the same parser directly.
  if (std::string_view(target.path).ends_with("/register") ||
      std::string_view(target.path).ends_with("/login")) {
    (void)ferry::ParseCredentials(body);
    return 0;
  }

  std::string path = target.path;
  std::string target_text;
  if (path.back() == '/') {
    // Peer routes: the "query" part is the id, or the caller's own peer.
    path += query.empty() ? world.peer_id : std::string(query);
    if (std::string_view(target.method) == "GET") path += "/files";
    target_text = path;
  } else {
    target_text = path + "?" + std::string(query);
  }
  ferry::HttpRequest req = ferry::HttpRequest::For(target.method, target_text);
  req.path = path;  // the raw bytes, as the old target had them: any byte reaches the routes
  req.remote_addr = "127.0.0.1";
  req.body = std::string(body);
  switch (data[1] % 3) {
    case 0:
      req.headers.emplace_back("Authorization", "Bearer " + world.token);
      break;
    case 1:
      req.headers.emplace_back("Authorization", "Bearer " + std::string(query));
      break;
    default:
      break;
  }
  // Logging out or removing the peer would leave later inputs nothing to hit.
  if ((data[1] % 3) == 0 && (req.path == "/api/v1/logout" || req.method == "DELETE")) return 0;

  // As the server does: the route answered on the loop if it can (the server
  // here is unbound as a database server's), the rest on a pool thread.
  const ferry::HttpRoutes& routes = world.http->routes();
  ferry::RouteMatch match = routes.Match(req.method, req.path);
  ferry::HttpResponse res;
  if (ferry::PoolWork on_pool = routes.StartOnLoop(match, req, res)) {
    if (res.status != 200 || !res.body.empty()) {
      std::fprintf(stderr, "a request left to a pool thread was half answered: %d\n", res.status);
      std::abort();
    }
    on_pool(res);
  }
  static const std::set<int> kExpected = {200, 201, 400, 401, 403, 404, 405, 409, 429, 503};
  if (!kExpected.contains(res.status)) {
    std::fprintf(stderr, "unexpected status %d: %s\n", res.status, res.body.c_str());
    std::abort();
  }
  if (req.path != "/metrics" && !nlohmann::json::accept(res.body)) {
    std::fprintf(stderr, "answer is not JSON: %s\n", res.body.c_str());
    std::abort();
  }
  return 0;
}
