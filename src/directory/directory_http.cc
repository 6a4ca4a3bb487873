#include "directory/directory_http.h"

#include <httplib.h>

#include <charconv>
#include <functional>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "directory/search_json.h"

namespace ferry {
namespace {

using nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr std::string_view kPeersPrefix = "/api/v1/peers/";

// Serialises without throwing: any invalid UTF-8 that slipped through is
// replaced rather than turned into an exception.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(Dump(body), kJson);
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, status, json{{"error", message}});
}

// "wait 8 s before trying again" -> 8; the throttle words its refusals so.
int RetryAfterSeconds(const std::string& message) {
  auto at = message.find("wait ");
  int seconds = 1;
  if (at != std::string::npos) {
    const char* begin = message.data() + at + 5;
    std::from_chars(begin, message.data() + message.size(), seconds);
  }
  return std::max(1, seconds);
}

void SendStatus(httplib::Response& res, const Status& status) {
  switch (status.code()) {
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return SendError(res, 400, status.message());
    case Code::kUnauthenticated:
      res.set_header("WWW-Authenticate", "Bearer");
      return SendError(res, 401, status.message());
    case Code::kPermissionDenied:
      return SendError(res, 403, status.message());
    case Code::kNotFound:
      return SendError(res, 404, status.message());
    case Code::kAlreadyExists:
      return SendError(res, 409, status.message());
    case Code::kResourceExhausted:
      res.set_header("Retry-After", std::to_string(RetryAfterSeconds(status.message())));
      return SendError(res, 429, status.message());
    case Code::kUnavailable:
      spdlog::warn("directory: {}", status.ToString());
      return SendError(res, 503, status.message());
    default:
      spdlog::error("directory: {}", status.ToString());
      return SendError(res, 500, "internal error; the directory's log has the details");
  }
}

std::string BearerToken(const httplib::Request& req) {
  const std::string& header = req.get_header_value("Authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() <= kPrefix.size() || header.compare(0, kPrefix.size(), kPrefix) != 0) {
    return "";
  }
  return header.substr(kPrefix.size());
}

json FileJson(const SharedFile& f) {
  return json{{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"mtime", f.mtime}};
}

json AnnounceJson(const AnnounceReply& r) {
  return json{{"peer_id", r.peer_id}, {"heartbeat_seconds", r.heartbeat_seconds}};
}

template <typename T, typename Fn>
void Reply(httplib::Response& res, const Result<T>& result, Fn to_json, int status = 200) {
  if (!result.ok()) return SendStatus(res, result.status());
  SendJson(res, status, to_json(*result));
}

void ReplyEmpty(httplib::Response& res, const Status& status) {
  if (!status.ok()) return SendStatus(res, status);
  SendJson(res, 200, json::object());
}

// A route's pattern for metrics and the peer id inside the path, if any.
struct RouteMatch {
  std::string pattern;
  std::string peer_id;
};

RouteMatch MatchRoute(const std::string& path) {
  std::string_view p = path;
  if (p.starts_with(kPeersPrefix)) {
    std::string_view rest = p.substr(kPeersPrefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos && !rest.empty()) {
      return {"/api/v1/peers/{id}", std::string(rest)};
    }
    if (slash != std::string_view::npos && slash > 0 && rest.substr(slash) == "/files") {
      return {"/api/v1/peers/{id}/files", std::string(rest.substr(0, slash))};
    }
    return {"", ""};
  }
  static const char* const kFixed[] = {
      "/api/v1/register",  "/api/v1/login", "/api/v1/logout", "/api/v1/verify", "/api/v1/announce",
      "/api/v1/heartbeat", "/api/v1/peers", "/api/v1/search", "/healthz",       "/metrics"};
  for (const char* route : kFixed) {
    if (p == route) return {route, ""};
  }
  return {"", ""};
}

// The one method a route takes (HEAD goes with GET): the GET routes only read.
const char* AllowedMethod(const std::string& route) {
  if (route == "/api/v1/verify" || route == "/api/v1/peers" || route == "/api/v1/search" ||
      route == "/healthz" || route == "/metrics" || route == "/api/v1/peers/{id}/files") {
    return "GET";
  }
  return route == "/api/v1/peers/{id}" ? "DELETE" : "POST";
}

}  // namespace

DirectoryHttpServer::DirectoryHttpServer(PassKey, DirectoryService* service,
                                         DirectoryHttpOptions options)
    : service_(service), options_(std::move(options)) {}

DirectoryHttpServer::~DirectoryHttpServer() { Stop(); }

std::unique_ptr<DirectoryHttpServer> DirectoryHttpServer::Unbound(DirectoryService* service,
                                                                  DirectoryHttpOptions options) {
  return std::make_unique<DirectoryHttpServer>(PassKey(), service, std::move(options));
}

Result<std::unique_ptr<DirectoryHttpServer>> DirectoryHttpServer::Bind(
    DirectoryService* service, const DirectoryHttpOptions& options) {
  auto server = std::make_unique<DirectoryHttpServer>(PassKey(), service, options);
  AsyncHttpOptions http;
  http.host = options.host;
  http.port = options.port;
  if (!options.plain_http) {
    http.cert_file = options.cert_file;
    http.key_file = options.key_file;
  }
  http.max_body = options.max_body;
  http.idle_timeout = options.idle_timeout;
  DirectoryHttpServer* self = server.get();
  if (options.store_in_process) {
    http.loops = options.loops;
    http.runs_on_loop = [self](const httplib::Request& req) {
      return self->AnswersWithoutWaiting(req);
    };
    http.threads = options.threads;
  } else {
    // Every request may wait for the database server: each of `threads`
    // loops handles one at a time. (Handing every request to a pool of
    // threads instead took 1.37 ms of CPU per search against 1.12, at 100
    // searches/s offered, in one A/B run.)
    http.loops = options.loops > 0 ? options.loops : options.threads;
  }
  auto bound = AsyncHttpServer::Bind(
      http,
      [self](const httplib::Request& req, httplib::Response& res) { self->Handle(req, res); });
  if (!bound.ok()) return bound.status();
  server->http_ = std::move(bound).value();
  server->port_ = server->http_->port();
  return server;
}

void DirectoryHttpServer::Serve() {
  if (http_) http_->Serve();
}

void DirectoryHttpServer::Stop() {
  if (http_) http_->Stop();
}

bool DirectoryHttpServer::AnswersWithoutWaiting(const httplib::Request& req) const {
  const std::string r = MatchRoute(req.path).pattern;
  if (r.empty()) return true;  // 404
  if (!options_.store_in_process) return false;
  // Heartbeats are kept in memory until the next flush; GET routes read.
  if (r == "/api/v1/heartbeat") return req.method == "POST";
  return std::string_view(AllowedMethod(r)) == "GET" &&
         (req.method == "GET" || req.method == "HEAD");
}

void DirectoryHttpServer::Handle(const httplib::Request& req, httplib::Response& res) {
  auto start = std::chrono::steady_clock::now();
  std::string route;
  try {
    Dispatch(req, res, &route);
  } catch (const std::exception& e) {
    spdlog::error("directory: {} {} failed: {}", req.method, route, e.what());
    SendError(res, 500, "internal error; the directory's log has the details");
  }
  metrics_.Record(route.empty() ? "unknown" : route, res.status,
                  std::chrono::steady_clock::now() - start);
}

void DirectoryHttpServer::Dispatch(const httplib::Request& req, httplib::Response& res,
                                   std::string* route) {
  RouteMatch match = MatchRoute(req.path);
  *route = match.pattern;
  const std::string& r = match.pattern;
  if (r.empty()) return SendError(res, 404, fmt::format("no route {}", req.path));
  std::string method = req.method == "HEAD" ? "GET" : req.method;
  const char* allowed = AllowedMethod(r);
  if (method != allowed) {
    res.set_header("Allow", allowed);
    return SendError(res, 405, fmt::format("{} takes {}, not {}", r, allowed, req.method));
  }
  if (!match.peer_id.empty() && !IsPeerId(match.peer_id)) {
    return SendError(res, 400, "a peer id is 32 lower-case hex digits");
  }
  DirectoryService& svc = *service_;

  if (r == "/healthz") {
    Status health = svc.Health();
    if (!health.ok()) {
      return SendJson(res, 503, json{{"status", "unavailable"}, {"error", health.message()}});
    }
    return SendJson(res, 200, json{{"status", "ok"}});
  }
  if (r == "/metrics") {
    res.status = 200;
    res.set_content(metrics_.Render(svc.counts(), svc.search_cache_stats()),
                    "text/plain; version=0.0.4");
    return;
  }
  if (r == "/api/v1/register" || r == "/api/v1/login") {
    auto credentials = ParseCredentials(
        req.body, r == "/api/v1/register" ? CredentialUse::kRegister : CredentialUse::kLogin);
    if (!credentials.ok()) return SendStatus(res, credentials.status());
    if (r == "/api/v1/register") {
      Status s = svc.Register(*credentials);
      if (!s.ok()) return SendStatus(res, s);
      return SendJson(res, 201, json{{"username", credentials->username}});
    }
    return Reply(res, svc.Login(*credentials, req.remote_addr), [](const LoginReply& l) {
      return json{{"token", l.token}, {"username", l.username}, {"expires_at", l.expires_at}};
    });
  }

  std::string token = BearerToken(req);
  if (r == "/api/v1/logout") return ReplyEmpty(res, svc.Logout(token));
  if (r == "/api/v1/verify") {
    return Reply(res, svc.Verify(token), [](const DirectorySession& s) {
      return json{{"username", s.username}, {"expires_at", s.expires_at / 1000}};
    });
  }
  if (r == "/api/v1/announce") {
    auto request = ParseAnnounce(req.body);
    if (!request.ok()) return SendStatus(res, request.status());
    return Reply(res, svc.Announce(token, *request), AnnounceJson);
  }
  if (r == "/api/v1/heartbeat") {
    auto peer_id = ParseHeartbeat(req.body);
    if (!peer_id.ok()) return SendStatus(res, peer_id.status());
    return Reply(res, svc.Heartbeat(token, *peer_id), AnnounceJson);
  }
  if (r == "/api/v1/peers/{id}") return ReplyEmpty(res, svc.RemovePeer(token, match.peer_id));
  if (r == "/api/v1/peers") {
    auto page = ParsePage(req.params, 100, 1000);
    if (!page.ok()) return SendStatus(res, page.status());
    return Reply(res, svc.Peers(token, *page), [](const std::vector<PeerInfo>& peers) {
      json out = json::array();
      for (const auto& p : peers) {
        out.push_back({{"peer_id", p.peer_id},
                       {"username", p.username},
                       {"address", p.address},
                       {"cert_sha256", p.cert_sha256},
                       {"files", p.file_count},
                       {"last_seen", p.last_seen / 1000}});
      }
      return out;
    });
  }
  if (r == "/api/v1/peers/{id}/files") {
    auto page = ParsePage(req.params, 1000, 10'000);
    if (!page.ok()) return SendStatus(res, page.status());
    return Reply(res, svc.PeerFiles(token, match.peer_id, *page),
                 [](const std::vector<SharedFile>& files) {
                   json out = json::array();
                   for (const auto& f : files) out.push_back(FileJson(f));
                   return out;
                 });
  }
  if (r == "/api/v1/search") {
    auto query = ParseSearch(req.params);
    if (!query.ok()) return SendStatus(res, query.status());
    auto answer = svc.Search(token, *query);
    if (!answer.ok()) return SendStatus(res, answer.status());
    res.status = 200;
    res.set_content((*answer)->json, kJson);
    return;
  }
  SendError(res, 404, fmt::format("no route {}", req.path));
}

}  // namespace ferry
