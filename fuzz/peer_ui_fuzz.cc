// libFuzzer target for the peer's web UI API (docs/peer-ui.md): its routes,
// their guards (secret, CSRF token, Host and Origin), query parameters and
// JSON bodies, over a real share index, history and download manager whose
// directory cannot be reached (so no input reaches the network).
//
// Input: byte 0 picks a route and method, byte 1 the credentials, byte 2
// the Host and Origin, then the path's tail or query up to the first '\n',
// then the body. Any answer is fine except a crash, a 500, an /api/ answer
// that is not JSON, or an answer without the secret that is not a refusal.
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/secrets.h"
#include "net/http_message.h"
#include "net/http_routes.h"
#include "net/http_stream.h"
#include "peer/download_history.h"
#include "peer/download_manager.h"
#include "peer/share_index.h"
#include "peer/shared_directory_client.h"
#include "peer/ui_access.h"
#include "peer/ui_events.h"
#include "peer/ui_routes.h"
#include "peer/upload_board.h"

namespace {

constexpr int kPort = 7090;
const std::string kSecret(64, '5');

struct Target {
  const char* method;
  const char* path;
};
constexpr Target kTargets[] = {
    {"GET", "/api/v1/session"},
    {"GET", "/api/v1/shares"},
    {"GET", "/api/v1/downloads"},
    {"POST", "/api/v1/downloads"},
    {"POST", "/api/v1/downloads/"},
    {"GET", "/api/v1/peers"},
    {"GET", "/api/v1/peers/"},
    {"GET", "/api/v1/search"},
    {"GET", "/api/v1/history"},
    {"GET", "/api/v1/events"},
    {"GET", "/metrics"},
    {"GET", "/login"},
    {"GET", "/"},
    {"GET", "/"},
    {"DELETE", "/api/v1/downloads"},
    {"PUT", "/api/v1/session"},
};

struct World {
  std::unique_ptr<ferry::ShareIndex> index;
  ferry::UploadBoard uploads;
  std::unique_ptr<ferry::DownloadHistory> history;
  std::unique_ptr<ferry::SharedDirectoryClient> directory;
  ferry::UiEvents events;
  std::unique_ptr<ferry::DownloadManager> downloads;
  std::unique_ptr<ferry::UiAccess> access;
  ferry::UiParts parts;
  std::unique_ptr<ferry::HttpRoutes> routes;
};

World& TheWorld() {
  static World* world = [] {
    spdlog::set_level(spdlog::level::off);
    if (!ferry::InitCrypto().ok()) std::abort();
    char dir[] = "/tmp/ferry-fuzz-ui-XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    const std::string root = dir;
    if (std::system(("mkdir -p " + root + "/share " + root + "/downloads && echo hello > " + root +
                     "/share/a.txt")
                        .c_str()) != 0) {
      std::abort();
    }
    auto* w = new World;  // lives for the whole fuzzing run
    auto index = ferry::ShareIndex::Open(root + "/share", root + "/index.db");
    if (!index.ok()) std::abort();
    w->index = std::move(index).value();
    if (!w->index->Scan().ok()) std::abort();
    auto history = ferry::DownloadHistory::Open(root + "/history.db");
    if (!history.ok()) std::abort();
    w->history = std::move(history).value();
    w->directory = std::make_unique<ferry::SharedDirectoryClient>(
        []() -> ferry::Result<std::unique_ptr<ferry::dirclient::DirectoryClient>> {
          return ferry::Status::Unavailable("cannot reach the directory (fuzzing)");
        });
    ferry::DownloadManagerOptions options;
    options.downloads_dir = root + "/downloads";
    w->downloads = std::make_unique<ferry::DownloadManager>(
        w->directory.get(), w->history.get(), options, ferry::DownloadManager::Listener{});
    w->access = std::make_unique<ferry::UiAccess>(kSecret, "127.0.0.1", kPort);
    w->parts.index = w->index.get();
    w->parts.uploads = &w->uploads;
    w->parts.downloads = w->downloads.get();
    w->parts.history = w->history.get();
    w->parts.directory = w->directory.get();
    w->parts.events = &w->events;
    w->parts.peer_id = [] { return std::string(32, 'c'); };
    w->parts.bytes_served = [] { return int64_t{0}; };
    w->parts.uploads_in_progress = [] { return 0; };
    w->parts.info = {"fuzz", "127.0.0.1:7443", root + "/share", root + "/downloads",
                     "https://127.0.0.1:7080"};
    w->routes = std::make_unique<ferry::HttpRoutes>(ferry::MakeUiRoutes(*w->access, w->parts));
    return w;
  }();
  return *world;
}

[[noreturn]] void Fail(const char* what, const ferry::HttpRequest& req,
                       const ferry::HttpResponse& res) {
  std::fprintf(stderr, "%s: %s %s -> %d %s\n", what, req.method.c_str(), req.target.c_str(),
               res.status, res.body.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  World& world = TheWorld();
  const Target& target = kTargets[data[0] % std::size(kTargets)];
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  auto newline = rest.find('\n');
  std::string_view tail = rest.substr(0, newline);
  std::string_view body = newline == std::string_view::npos ? "" : rest.substr(newline + 1);

  std::string path = target.path;
  std::string target_text;
  if (path.back() == '/' && path.size() > 1) {
    // Routes with an id: the tail is the id and what follows it.
    path += std::string(tail);
    target_text = path;
  } else {
    target_text = path + "?" + std::string(tail);
  }
  ferry::HttpRequest req = ferry::HttpRequest::For(target.method, target_text);
  req.remote_addr = "127.0.0.1";
  req.body = std::string(body);
  const int credentials = data[1] % 5;
  switch (credentials) {
    case 0:
      break;
    case 1:
      req.headers.emplace_back("Authorization", "Bearer " + kSecret);
      break;
    case 2:
      req.headers.emplace_back("Cookie", "ferry_ui=" + kSecret);
      break;
    case 3:
      req.headers.emplace_back("Cookie", "ferry_ui=" + kSecret);
      req.headers.emplace_back("X-CSRF-Token", world.access->csrf_token());
      break;
    case 4:  // a wrong secret (never the right one: that has no 'x')
      req.headers.emplace_back("Authorization", "Bearer x" + std::string(tail.substr(0, 80)));
      break;
  }
  switch (data[2] % 4) {
    case 0:
      req.headers.emplace_back("Host", "127.0.0.1:7090");
      break;
    case 1:
      req.headers.emplace_back("Host", "localhost:7090");
      req.headers.emplace_back("Origin", "http://localhost:7090");
      break;
    case 2:
      req.headers.emplace_back("Host", std::string(tail.substr(0, 40)));
      break;
    case 3:
      req.headers.emplace_back("Host", "127.0.0.1:7090");
      req.headers.emplace_back("Origin", std::string(tail.substr(0, 40)));
      break;
  }
  ferry::HttpResponse res;
  world.routes->Answer(req, res);
  if (res.stream) {
    // The event feed: its first event is queued; nobody reads it here.
    res.stream->Close();
    world.events.KeepAlive();  // drops the closed stream
  }
  // 503 is the directory that cannot be reached, as here; anything else
  // from 500 up is a bug.
  if (res.status >= 500 && res.status != 503) Fail("a server error", req, res);
  const bool api = req.path.starts_with("/api/") || req.path == "/metrics";
  const bool has_secret = credentials >= 1 && credentials <= 3;
  if (!has_secret && req.path != "/login" && api && res.status < 400) {
    Fail("answered without the secret", req, res);
  }
  if (api && res.status >= 400 && !nlohmann::json::accept(res.body)) {
    Fail("an error that is not JSON", req, res);
  }
  return 0;
}
