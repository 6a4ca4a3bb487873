#include "peer/ui_routes.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/display_text.h"
#include "net/http_stream.h"
#include "net/prometheus_text.h"
#include "peer/peer_metrics.h"
#include "peer/ui_assets.h"
#include "peer/ui_json.h"

namespace ferry {
namespace {

using json = nlohmann::json;

constexpr int kDefaultHistory = 1000;
constexpr int kMaxHistory = 10000;
constexpr int kMaxPeers = 1000;

// Sent with every answer: nothing is cached, sniffed, framed or referred.
void SafetyHeaders(HttpResponse& res) {
  res.SetHeader("Cache-Control", "no-store");
  res.SetHeader("X-Content-Type-Options", "nosniff");
  res.SetHeader("X-Frame-Options", "DENY");
  res.SetHeader("Referrer-Policy", "no-referrer");
}

int HttpStatusOf(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kAborted:
      return 409;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

void SendStatus(HttpResponse& res, const Status& s) {
  SendHttpError(res, HttpStatusOf(s.code()), s.message());
}

void SendJson(HttpResponse& res, int status, const json& body) {
  res.status = status;
  res.SetBody(Dump(body), "application/json");
}

// The page shown instead of the UI to a browser without the secret.
constexpr char kLockedPage[] = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ferry peer: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}
code{background:#eee;padding:.1em .3em;border-radius:3px}</style></head>
<body><main><h1>This page needs the peer's secret link</h1>
<p>Open the link <code>ferry peer</code> printed when it started
(<code>web UI: http://&hellip;/login?secret=&hellip;</code>). The secret is also kept in
the file <code>ui-secret</code> in the peer's data folder.</p></main></body></html>
)html";

void SendLocked(HttpResponse& res) {
  res.status = 401;
  res.SetBody(kLockedPage, "text/html; charset=utf-8");
}

// The query parameter `name`, or "".
std::string Param(const HttpRequest& req, const std::string& name) {
  auto it = req.query.find(name);
  return it == req.query.end() ? std::string() : it->second;
}

}  // namespace

HttpRoutes MakeUiRoutes(const UiAccess& ui_access, const UiParts& parts) {
  HttpRouteOptions route_options;
  route_options.name = "ui";
  route_options.body_limit = kUiBodyLimit;
  HttpRoutes routes(route_options);
  // Every route checks the Host and Origin first; `api` routes then need the
  // secret, and `change` routes with the cookie also the CSRF token.
  enum class Guard { kHostOnly, kApi, kChange };
  auto add = [&](std::string method, std::string pattern, Guard guard,
                 std::function<void(const HttpRequest&, const PathParams&, HttpResponse&)> handle) {
    HttpRoute route;
    route.method = std::move(method);
    route.pattern = std::move(pattern);
    route.handler = [&access = ui_access, guard, handle = std::move(handle)](
                        const HttpRequest& req, const PathParams& params,
                        HttpResponse& res) -> PoolWork {
      SafetyHeaders(res);
      if (Status host = access.CheckHost(req); !host.ok()) {
        SendStatus(res, host);
        return {};
      }
      if (guard != Guard::kHostOnly) {
        bool by_cookie = false;
        if (Status in = access.Authenticate(req, &by_cookie); !in.ok()) {
          SendStatus(res, in);
          return {};
        }
        if (guard == Guard::kChange && by_cookie) {
          if (Status csrf = access.CheckCsrf(req); !csrf.ok()) {
            SendStatus(res, csrf);
            return {};
          }
        }
      }
      handle(req, params, res);
      return {};
    };
    routes.Add(std::move(route));
  };

  add("GET", "/login", Guard::kHostOnly,
      [&access = ui_access](const HttpRequest& req, const PathParams&, HttpResponse& res) {
        if (!access.IsSecret(Param(req, "secret"))) {
          SendLocked(res);
          return;
        }
        res.status = 303;
        res.SetHeader("Set-Cookie", access.LoginCookie());
        res.SetHeader("Location", "/");
      });

  add("GET", "/api/v1/session", Guard::kApi,
      [&access = ui_access, &p = parts](const HttpRequest&, const PathParams&, HttpResponse& res) {
        SendJson(res, 200,
                 {{"csrf_token", access.csrf_token()},
                  {"user", p.info.user},
                  {"peer_id", p.peer_id()},
                  {"address", p.info.address},
                  {"share_dir", p.info.share_dir},
                  {"downloads_dir", p.info.downloads_dir},
                  {"directory", p.info.directory}});
      });

  add("GET", "/api/v1/shares", Guard::kApi,
      [&p = parts](const HttpRequest&, const PathParams&, HttpResponse& res) {
        auto files = p.index->Files();
        if (!files.ok()) return SendStatus(res, files.status());
        json list = json::array();
        for (const auto& f : *files) list.push_back(SharedFileJson(f));
        SendJson(res, 200,
                 {{"files", std::move(list)},
                  {"indexing", IndexingJson(p.index->Progress())},
                  {"uploads", UploadsJson(p.uploads->Snapshot())}});
      });

  add("GET", "/api/v1/downloads", Guard::kApi,
      [&p = parts](const HttpRequest&, const PathParams&, HttpResponse& res) {
        json list = json::array();
        for (const auto& d : p.downloads->List()) list.push_back(DownloadJson(d));
        SendJson(res, 200, {{"downloads", std::move(list)}});
      });

  add("POST", "/api/v1/downloads", Guard::kChange,
      [&p = parts](const HttpRequest& req, const PathParams&, HttpResponse& res) {
        json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
        if (!body.is_object()) {
          return SendStatus(res,
                            Status::InvalidArgument(
                                "the body is a JSON object: {\"sha256\": HEX, \"name\": NAME}"));
        }
        auto sha256 = body.find("sha256");
        if (sha256 == body.end() || !sha256->is_string()) {
          return SendStatus(
              res, Status::InvalidArgument("\"sha256\" (a string of 64 hex digits) is required"));
        }
        std::string name;
        if (auto n = body.find("name"); n != body.end() && !n->is_null()) {
          if (!n->is_string()) {
            return SendStatus(res, Status::InvalidArgument("\"name\" is a string"));
          }
          name = n->get<std::string>();
        }
        auto started = p.downloads->Start(sha256->get<std::string>(), name);
        if (!started.ok()) return SendStatus(res, started.status());
        SendJson(res, 201, DownloadJson(*started));
      });

  add("POST", "/api/v1/downloads/{id}/{action}", Guard::kChange,
      [&p = parts](const HttpRequest&, const PathParams& params, HttpResponse& res) {
        const std::string& id = params[0];
        const std::string& action = params[1];
        Result<DownloadView> done = Status::NotFound("");
        if (action == "pause") {
          done = p.downloads->Pause(id);
        } else if (action == "resume") {
          done = p.downloads->Resume(id);
        } else if (action == "cancel") {
          done = p.downloads->Cancel(id);
        } else {
          return SendStatus(
              res, Status::NotFound(
                       fmt::format("no action '{}': pause, resume or cancel", ForDisplay(action))));
        }
        if (!done.ok()) return SendStatus(res, done.status());
        SendJson(res, 200, DownloadJson(*done));
      });

  add("GET", "/api/v1/peers", Guard::kApi,
      [&p = parts](const HttpRequest&, const PathParams&, HttpResponse& res) {
        auto peers =
            p.directory->Call([](dirclient::DirectoryClient& c) { return c.AllPeers(kMaxPeers); });
        if (!peers.ok()) return SendStatus(res, peers.status());
        const std::string self = p.peer_id();
        json list = json::array();
        for (const auto& peer : *peers) list.push_back(PeerJson(peer, peer.peer_id == self));
        SendJson(res, 200, {{"peers", std::move(list)}});
      });

  add("GET", "/api/v1/peers/{id}/files", Guard::kApi,
      [&p = parts](const HttpRequest&, const PathParams& params, HttpResponse& res) {
        const std::string& id = params[0];
        auto files =
            p.directory->Call([&id](dirclient::DirectoryClient& c) { return c.AllPeerFiles(id); });
        if (!files.ok()) return SendStatus(res, files.status());
        json list = json::array();
        for (const auto& f : *files) {
          list.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
        }
        SendJson(res, 200, {{"files", std::move(list)}});
      });

  add("GET", "/api/v1/search", Guard::kApi,
      [&p = parts](const HttpRequest& req, const PathParams&, HttpResponse& res) {
        dirclient::SearchQuery query;
        query.text = Param(req, "q");
        query.sha256 = Param(req, "sha256");
        query.limit = 200;
        if (query.text.empty() == query.sha256.empty()) {
          return SendStatus(
              res, Status::InvalidArgument("search with exactly one of ?q=TEXT and ?sha256=HEX"));
        }
        auto hits =
            p.directory->Call([&query](dirclient::DirectoryClient& c) { return c.Search(query); });
        if (!hits.ok()) return SendStatus(res, hits.status());
        json list = json::array();
        for (const auto& h : *hits) list.push_back(SearchHitJson(h));
        SendJson(res, 200, {{"results", std::move(list)}});
      });

  add("GET", "/api/v1/history", Guard::kApi,
      [&p = parts](const HttpRequest& req, const PathParams&, HttpResponse& res) {
        int limit = kDefaultHistory;
        if (std::string text = Param(req, "limit"); !text.empty()) {
          size_t used = 0;
          try {
            limit = std::stoi(text, &used);
          } catch (const std::exception&) {
            used = 0;
          }
          if (used != text.size() || limit < 1 || limit > kMaxHistory) {
            return SendStatus(res, Status::InvalidArgument(
                                       fmt::format("limit is a number from 1 to {}", kMaxHistory)));
          }
        }
        auto entries = p.history->Newest(limit);
        if (!entries.ok()) return SendStatus(res, entries.status());
        json list = json::array();
        for (const auto& e : *entries) list.push_back(HistoryJson(e));
        SendJson(res, 200, {{"history", std::move(list)}});
      });

  add("GET", "/api/v1/events", Guard::kApi,
      [&p = parts](const HttpRequest& req, const PathParams&, HttpResponse& res) {
        res.SetHeader("Content-Type", "text/event-stream");
        if (req.method == "HEAD") return;
        auto stream = std::make_shared<HttpStream>();
        res.stream = stream;
        p.events->Subscribe(
            [stream](const std::string& text) { return stream->Write(text); },
            [&p] {
              json downloads = json::array();
              for (const auto& d : p.downloads->List()) downloads.push_back(DownloadJson(d));
              return SseEvent("snapshot", Dump({{"downloads", std::move(downloads)},
                                                {"uploads", UploadsJson(p.uploads->Snapshot())},
                                                {"indexing", IndexingJson(p.index->Progress())}}));
            });
      });

  add("GET", "/metrics", Guard::kApi,
      [&p = parts](const HttpRequest&, const PathParams&, HttpResponse& res) {
        PeerMetricsInput in;
        in.bytes_served = p.bytes_served();
        in.uploads_in_progress = p.uploads_in_progress();
        auto files = p.index->Count();
        in.shared_files = files.ok() ? *files : 0;
        in.indexing = p.index->Progress();
        in.downloads = p.downloads->Totals();
        in.ui_pages = p.events->pages();
        res.SetBody(RenderPeerMetrics(in), kPrometheusContentType);
      });

  // The page itself needs the cookie; its scripts and styles hold nothing
  // secret and load with the page.
  add("GET", "/", Guard::kHostOnly,
      [&access = ui_access](const HttpRequest& req, const PathParams&, HttpResponse& res) {
        bool by_cookie = false;
        if (!access.Authenticate(req, &by_cookie).ok()) return SendLocked(res);
        const UiAsset* page = FindUiAsset("/");
        if (page == nullptr) return SendStatus(res, Status::Internal("the page is not built in"));
        res.SetHeader("Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                      "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                      "base-uri 'none'; form-action 'self'");
        res.SetBody(std::string(page->body), page->content_type);
      });
  add("GET", "/{asset}", Guard::kHostOnly,
      [](const HttpRequest& req, const PathParams&, HttpResponse& res) {
        const UiAsset* asset = FindUiAsset(req.path);
        if (asset == nullptr || req.path == "/") {
          return SendStatus(res,
                            Status::NotFound(fmt::format("no page '{}'", ForDisplay(req.path))));
        }
        res.SetBody(std::string(asset->body), asset->content_type);
      });
  return routes;
}

}  // namespace ferry
