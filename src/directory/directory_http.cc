#include "directory/directory_http.h"

#include <httplib.h>

#include <charconv>
#include <functional>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "directory/search_json.h"
#include "directory/strict_json.h"
#include "directory_api/wire_json.h"

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

json AnnounceJson(const PeerLease& r) { return dirapi::ToJson(r); }

template <typename T, typename Fn>
void Reply(httplib::Response& res, const Result<T>& result, Fn to_json, int status = 200) {
  if (!result.ok()) return SendStatus(res, result.status());
  SendJson(res, status, to_json(*result));
}

void ReplySearch(httplib::Response& res, const Result<SharedSearchAnswer>& answer) {
  if (!answer.ok()) return SendStatus(res, answer.status());
  res.status = 200;
  res.set_content((*answer)->json, kJson);
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

// Answers a request for no route, with the wrong method or a malformed peer
// id, and returns true; false for one to dispatch.
bool RefuseBadRoute(const httplib::Request& req, httplib::Response& res, const RouteMatch& match) {
  const std::string& r = match.pattern;
  if (r.empty()) {
    SendError(res, 404, fmt::format("no route {}", req.path));
    return true;
  }
  std::string method = req.method == "HEAD" ? "GET" : req.method;
  const char* allowed = AllowedMethod(r);
  if (method != allowed) {
    res.set_header("Allow", allowed);
    SendError(res, 405, fmt::format("{} takes {}, not {}", r, allowed, req.method));
    return true;
  }
  if (!match.peer_id.empty() && !IsPeerId(match.peer_id)) {
    SendError(res, 400, "a peer id is 32 lower-case hex digits");
    return true;
  }
  return false;
}

}  // namespace

DirectoryHttpServer::DirectoryHttpServer(PassKey, DirectoryService* service,
                                         DirectoryHttpOptions options)
    : service_(service),
      options_(std::move(options)),
      register_limiter_(options_.register_per_minute, options_.rate_limit_addresses),
      login_limiter_(options_.login_per_minute, options_.rate_limit_addresses) {}

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
  http.idle_timeout = options.idle_timeout;
  DirectoryHttpServer* self = server.get();
  http.max_body = std::max(options.max_body, options.max_small_body);
  http.body_limit = [self](const AsyncHttpOptions::RequestHead& head) {
    return self->BodyLimit(head);
  };
  // One loop per CPU answers what needs no waiting, in the order it came;
  // the rest goes to `threads` threads. With a database server, that is what
  // the instance holds in memory: cached answers and heartbeats. (Handing
  // every request to the threads took 1.37 ms of CPU per search against
  // 1.12 with a loop per request, at 100 searches/s offered, in one A/B run;
  // only the searches that ask the database pay for the hand-over now.)
  http.loops = options.loops;
  http.threads = options.threads;
  http.answer_on_loop = [self](const httplib::Request& req, httplib::Response& res) {
    return self->AnswerOnLoop(req, res);
  };
  auto bound = AsyncHttpServer::Bind(
      http,
      [self](const httplib::Request& req, httplib::Response& res) { self->Handle(req, res); });
  if (!bound.ok()) return bound.status();
  server->http_ = std::move(bound).value();
  server->port_ = server->http_->port();
  return server;
}

size_t DirectoryHttpServer::BodyLimit(const AsyncHttpOptions::RequestHead& head) const {
  // Only an announce carries much; the token it needs is checked once the
  // body is read, but without one it may not send more than anyone else.
  std::string_view path = head.target.substr(0, head.target.find('?'));
  if (head.method == "POST" && path == "/api/v1/announce" &&
      head.authorization.starts_with("Bearer ")) {
    return options_.max_body;
  }
  return options_.max_small_body;
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
  Answer(req, res, Answering::kAnyWay);
}

bool DirectoryHttpServer::AnswerOnLoop(const httplib::Request& req, httplib::Response& res) {
  if (!options_.store_in_process) return Answer(req, res, Answering::kFromMemory);
  if (!AnswersWithoutWaiting(req)) return false;
  Handle(req, res);
  return true;
}

bool DirectoryHttpServer::Answer(const httplib::Request& req, httplib::Response& res,
                                 Answering how) {
  auto start = std::chrono::steady_clock::now();
  std::string route;
  try {
    if (!Dispatch(req, res, &route, how)) return false;
  } catch (const std::exception& e) {
    spdlog::error("directory: {} {} failed: {}", req.method, route, e.what());
    SendError(res, 500, "internal error; the directory's log has the details");
  }
  metrics_.Record(route.empty() ? "unknown" : route, res.status,
                  std::chrono::steady_clock::now() - start);
  return true;
}

bool DirectoryHttpServer::Dispatch(const httplib::Request& req, httplib::Response& res,
                                   std::string* route, Answering how) {
  RouteMatch match = MatchRoute(req.path);
  *route = match.pattern;
  if (RefuseBadRoute(req, res, match)) return true;
  if (how == Answering::kFromMemory) return DispatchFromMemory(req, res, match.pattern);
  DispatchAnyWay(req, res, match.pattern, match.peer_id);
  return true;
}

bool DirectoryHttpServer::DispatchFromMemory(const httplib::Request& req, httplib::Response& res,
                                             const std::string& r) {
  DirectoryService& svc = *service_;
  if (r == "/metrics") {
    ReplyMetrics(res);
    return true;
  }
  if (r == "/api/v1/heartbeat") {
    auto peer_id = ParseHeartbeat(req.body, options_.max_json_depth);
    if (!peer_id.ok()) {
      SendStatus(res, peer_id.status());
      return true;
    }
    auto reply = svc.HeartbeatInMemory(BearerToken(req), *peer_id);
    if (!reply) return false;
    Reply(res, *reply, AnnounceJson);
    return true;
  }
  if (r == "/api/v1/search") {
    auto query = ParseSearch(req.params);
    if (!query.ok()) {
      SendStatus(res, query.status());
      return true;
    }
    auto answer = svc.SearchInMemory(BearerToken(req), *query);
    if (!answer) return false;
    ReplySearch(res, *answer);
    return true;
  }
  return false;
}

void DirectoryHttpServer::ReplyMetrics(httplib::Response& res) {
  res.status = 200;
  res.set_content(metrics_.Render(service_->counts(), service_->search_cache_stats()),
                  "text/plain; version=0.0.4");
}

void DirectoryHttpServer::DispatchAnyWay(const httplib::Request& req, httplib::Response& res,
                                         const std::string& r, const std::string& path_peer_id) {
  DirectoryService& svc = *service_;

  if (r == "/healthz") {
    Status health = svc.Health();
    if (!health.ok()) {
      return SendJson(res, 503, json{{"status", "unavailable"}, {"error", health.message()}});
    }
    return SendJson(res, 200, json{{"status", "ok"}});
  }
  if (r == "/metrics") return ReplyMetrics(res);
  if (r == "/api/v1/register" || r == "/api/v1/login") {
    const bool registering = r == "/api/v1/register";
    Status admitted = registering ? register_limiter_.Take(req.remote_addr, "register")
                                  : login_limiter_.Take(req.remote_addr, "login");
    if (!admitted.ok()) return SendStatus(res, admitted);
    auto credentials =
        ParseCredentials(req.body, registering ? CredentialUse::kRegister : CredentialUse::kLogin,
                         options_.max_json_depth);
    if (!credentials.ok()) return SendStatus(res, credentials.status());
    if (registering) {
      Status s = svc.Register(*credentials);
      if (!s.ok()) return SendStatus(res, s);
      return SendJson(res, 201, json{{"username", credentials->username}});
    }
    return Reply(res, svc.Login(*credentials, req.remote_addr),
                 [](const LoginInfo& l) { return dirapi::ToJson(l); });
  }

  std::string token = BearerToken(req);
  if (r == "/api/v1/logout") return ReplyEmpty(res, svc.Logout(token));
  if (r == "/api/v1/verify") {
    return Reply(res, svc.Verify(token), [](const DirectorySession& s) {
      return json{{"username", s.username}, {"expires_at", s.expires_at / 1000}};
    });
  }
  if (r == "/api/v1/announce") {
    auto request = ParseAnnounce(req.body, options_.max_json_depth);
    if (!request.ok()) return SendStatus(res, request.status());
    return Reply(res, svc.Announce(token, *request), AnnounceJson);
  }
  if (r == "/api/v1/heartbeat") {
    auto peer_id = ParseHeartbeat(req.body, options_.max_json_depth);
    if (!peer_id.ok()) return SendStatus(res, peer_id.status());
    return Reply(res, svc.Heartbeat(token, *peer_id), AnnounceJson);
  }
  if (r == "/api/v1/peers/{id}") return ReplyEmpty(res, svc.RemovePeer(token, path_peer_id));
  if (r == "/api/v1/peers") {
    auto page = ParsePage(req.params, 100, 1000);
    if (!page.ok()) return SendStatus(res, page.status());
    return Reply(res, svc.Peers(token, *page),
                 [](const std::vector<dirapi::PeerInfo>& peers) { return dirapi::ToJson(peers); });
  }
  if (r == "/api/v1/peers/{id}/files") {
    auto page = ParsePage(req.params, 1000, 10'000);
    if (!page.ok()) return SendStatus(res, page.status());
    return Reply(res, svc.PeerFiles(token, path_peer_id, *page),
                 [](const std::vector<SharedFile>& files) { return dirapi::ToJson(files); });
  }
  if (r == "/api/v1/search") {
    auto query = ParseSearch(req.params);
    if (!query.ok()) return SendStatus(res, query.status());
    return ReplySearch(res, svc.Search(token, *query));
  }
  SendError(res, 404, fmt::format("no route {}", req.path));
}

}  // namespace ferry
