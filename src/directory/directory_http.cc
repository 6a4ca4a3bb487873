#include "directory/directory_http.h"

#include <charconv>
#include <functional>
#include <string_view>
#include <vector>

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

// Serialises without throwing: any invalid UTF-8 that slipped through is
// replaced rather than turned into an exception.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void SendJson(HttpResponse& res, int status, const json& body) {
  res.status = status;
  res.SetBody(Dump(body), kJson);
}

void SendError(HttpResponse& res, int status, const std::string& message) {
  SendHttpError(res, status, message);
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

void SendStatus(HttpResponse& res, const Status& status) {
  switch (status.code()) {
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return SendError(res, 400, status.message());
    case Code::kUnauthenticated:
      res.SetHeader("WWW-Authenticate", "Bearer");
      return SendError(res, 401, status.message());
    case Code::kPermissionDenied:
      return SendError(res, 403, status.message());
    case Code::kNotFound:
      return SendError(res, 404, status.message());
    case Code::kAlreadyExists:
      return SendError(res, 409, status.message());
    case Code::kResourceExhausted:
      res.SetHeader("Retry-After", std::to_string(RetryAfterSeconds(status.message())));
      return SendError(res, 429, status.message());
    case Code::kUnavailable:
      spdlog::warn("directory: {}", status.ToString());
      return SendError(res, 503, status.message());
    default:
      spdlog::error("directory: {}", status.ToString());
      return SendError(res, 500, "internal error; the directory's log has the details");
  }
}

std::string BearerToken(const HttpRequest& req) {
  std::string_view header = req.Header("Authorization");
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() <= kPrefix.size() || !header.starts_with(kPrefix)) return "";
  return std::string(header.substr(kPrefix.size()));
}

json AnnounceJson(const PeerLease& r) { return dirapi::ToJson(r); }

template <typename T, typename Fn>
void Reply(HttpResponse& res, const Result<T>& result, Fn to_json, int status = 200) {
  if (!result.ok()) return SendStatus(res, result.status());
  SendJson(res, status, to_json(*result));
}

void ReplySearch(HttpResponse& res, const Result<SharedSearchAnswer>& answer) {
  if (!answer.ok()) return SendStatus(res, answer.status());
  res.status = 200;
  res.SetBody((*answer)->json, kJson);
}

void ReplyEmpty(HttpResponse& res, const Status& status) {
  if (!status.ok()) return SendStatus(res, status);
  SendJson(res, 200, json::object());
}

// Answers a request whose path names a peer id, or refuses a malformed id.
bool RefuseBadPeerId(const std::string& peer_id, HttpResponse& res) {
  if (IsPeerId(peer_id)) return false;
  SendError(res, 400, "a peer id is 32 lower-case hex digits");
  return true;
}

// A handler that always answers where it runs.
using Answer = std::function<void(const HttpRequest&, const PathParams&, HttpResponse&)>;
std::function<PoolWork(const HttpRequest&, const PathParams&, HttpResponse&)> Whole(Answer answer) {
  return [answer = std::move(answer)](const HttpRequest& req, const PathParams& params,
                                      HttpResponse& res) -> PoolWork {
    answer(req, params, res);
    return {};
  };
}

}  // namespace

DirectoryHttpServer::DirectoryHttpServer(PassKey, DirectoryService* service,
                                         DirectoryHttpOptions options)
    : service_(service),
      options_(std::move(options)),
      register_limiter_(options_.register_per_minute, options_.rate_limit_addresses),
      login_limiter_(options_.login_per_minute, options_.rate_limit_addresses),
      routes_(MakeRoutes()) {}

DirectoryHttpServer::~DirectoryHttpServer() { Stop(); }

std::unique_ptr<DirectoryHttpServer> DirectoryHttpServer::Unbound(DirectoryService* service,
                                                                  DirectoryHttpOptions options) {
  return std::make_unique<DirectoryHttpServer>(PassKey(), service, std::move(options));
}

Result<std::unique_ptr<DirectoryHttpServer>> DirectoryHttpServer::Bind(
    DirectoryService* service, const DirectoryHttpOptions& options) {
  auto server = std::make_unique<DirectoryHttpServer>(PassKey(), service, options);
  HttpServerOptions http;
  http.host = options.host;
  http.port = options.port;
  if (!options.plain_http) {
    http.cert_file = options.cert_file;
    http.key_file = options.key_file;
  }
  http.idle_timeout = options.idle_timeout;
  http.max_body = std::max(options.max_body, options.max_small_body);
  http.loops = options.loops;
  http.threads = options.threads;
  auto bound = HttpServer::Bind(http, &server->routes_);
  if (!bound.ok()) return bound.status();
  server->http_ = std::move(bound).value();
  server->port_ = server->http_->port();
  return server;
}

size_t DirectoryHttpServer::AnnounceBodyLimit(const HttpRequest& head) const {
  // Only an announce carries much; the token it needs is checked once the
  // body is read, but without one it may not send more than anyone else.
  return head.Header("Authorization").starts_with("Bearer ") ? options_.max_body
                                                             : options_.max_small_body;
}

void DirectoryHttpServer::Serve() {
  if (http_) http_->Serve();
}

void DirectoryHttpServer::Stop() {
  if (http_) http_->Stop();
}

void DirectoryHttpServer::Handle(const HttpRequest& request, HttpResponse& response) const {
  routes_.Answer(request, response);
}

void DirectoryHttpServer::ReplyMetrics(HttpResponse& res) {
  res.status = 200;
  res.SetBody(metrics_.Render(service_->counts(), service_->search_cache_stats()),
              "text/plain; version=0.0.4");
}

HttpRoutes DirectoryHttpServer::MakeRoutes() {
  HttpRouteOptions route_options;
  route_options.name = "directory";
  route_options.body_limit = options_.max_small_body;
  route_options.on_answered = [this](std::string_view pattern, int status,
                                     std::chrono::nanoseconds took) {
    metrics_.Record(pattern.empty() ? "unknown" : std::string(pattern), status, took);
  };
  HttpRoutes routes(std::move(route_options));
  DirectoryService& svc = *service_;
  const bool reads_on_loop = options_.reads_answered_on_loop;
  const int depth = options_.max_json_depth;

  auto credentials_route = [this, &svc, depth](CredentialUse use) {
    return Whole(
        [this, &svc, depth, use](const HttpRequest& req, const PathParams&, HttpResponse& res) {
          const bool registering = use == CredentialUse::kRegister;
          Status admitted = registering ? register_limiter_.Take(req.remote_addr, "register")
                                        : login_limiter_.Take(req.remote_addr, "login");
          if (!admitted.ok()) return SendStatus(res, admitted);
          auto credentials = ParseCredentials(req.body, use, depth);
          if (!credentials.ok()) return SendStatus(res, credentials.status());
          if (registering) {
            Status s = svc.Register(*credentials);
            if (!s.ok()) return SendStatus(res, s);
            return SendJson(res, 201, dirapi::RegisteredJson(credentials->username));
          }
          Reply(res, svc.Login(*credentials, req.remote_addr),
                [](const LoginInfo& l) { return dirapi::ToJson(l); });
        });
  };
  routes.Add({"POST", "/api/v1/register", false, credentials_route(CredentialUse::kRegister), {}});
  routes.Add({"POST", "/api/v1/login", false, credentials_route(CredentialUse::kLogin), {}});
  routes.Add({"POST",
              "/api/v1/logout",
              false,
              Whole([&svc](const HttpRequest& req, const PathParams&, HttpResponse& res) {
                ReplyEmpty(res, svc.Logout(BearerToken(req)));
              }),
              {}});
  routes.Add({"GET",
              "/api/v1/verify",
              reads_on_loop,
              Whole([&svc](const HttpRequest& req, const PathParams&, HttpResponse& res) {
                Reply(res, svc.Verify(BearerToken(req)), [](const DirectorySession& s) {
                  return dirapi::ToJson(dirapi::TokenInfo{s.username, s.expires_at / 1000});
                });
              }),
              {}});
  routes.Add({"POST", "/api/v1/announce", false,
              Whole([&svc, depth](const HttpRequest& req, const PathParams&, HttpResponse& res) {
                auto request = ParseAnnounce(req.body, depth);
                if (!request.ok()) return SendStatus(res, request.status());
                Reply(res, svc.Announce(BearerToken(req), *request), AnnounceJson);
              }),
              [this](const HttpRequest& head) { return AnnounceBodyLimit(head); }});
  // Heartbeats are held in memory until the next flush: with a database
  // server, one of a peer this instance knows needs nothing else.
  routes.Add({"POST",
              "/api/v1/heartbeat",
              true,
              [&svc, depth, reads_on_loop](const HttpRequest& req, const PathParams&,
                                           HttpResponse& res) -> PoolWork {
                auto peer_id = ParseHeartbeat(req.body, depth);
                if (!peer_id.ok()) {
                  SendStatus(res, peer_id.status());
                  return {};
                }
                std::string token = BearerToken(req);
                if (!reads_on_loop) {
                  if (auto reply = svc.HeartbeatOnLoop(token, *peer_id)) {
                    Reply(res, *reply, AnnounceJson);
                    return {};
                  }
                  return [&svc, token = std::move(token), id = *peer_id](HttpResponse& out) {
                    Reply(out, svc.Heartbeat(token, id), AnnounceJson);
                  };
                }
                Reply(res, svc.Heartbeat(token, *peer_id), AnnounceJson);
                return {};
              },
              {}});
  // A ticket is written to the store; a check only reads it. Both bodies are
  // small ones, and tickets travel only in bodies, never in a URL.
  routes.Add({"POST",
              "/api/v1/tickets",
              false,
              Whole([&svc, depth](const HttpRequest& req, const PathParams&, HttpResponse& res) {
                auto request = ParseTicketRequest(req.body, depth);
                if (!request.ok()) return SendStatus(res, request.status());
                Reply(res, svc.IssueTicket(BearerToken(req), request->peer_id),
                      [](const dirapi::Ticket& t) { return dirapi::ToJson(t); });
              }),
              {}});
  routes.Add({"POST",
              "/api/v1/tickets/check",
              reads_on_loop,
              Whole([&svc, depth](const HttpRequest& req, const PathParams&, HttpResponse& res) {
                auto check = ParseTicketCheck(req.body, depth);
                if (!check.ok()) return SendStatus(res, check.status());
                Reply(res, svc.CheckTicket(BearerToken(req), *check),
                      [](const dirapi::TicketHolder& h) { return dirapi::ToJson(h); });
              }),
              {}});
  routes.Add({"DELETE",
              "/api/v1/peers/{id}",
              false,
              Whole([&svc](const HttpRequest& req, const PathParams& params, HttpResponse& res) {
                if (RefuseBadPeerId(params[0], res)) return;
                ReplyEmpty(res, svc.RemovePeer(BearerToken(req), params[0]));
              }),
              {}});
  routes.Add(
      {"GET",
       "/api/v1/peers",
       reads_on_loop,
       Whole([&svc](const HttpRequest& req, const PathParams&, HttpResponse& res) {
         auto page = ParsePage(req.query, 100, 1000);
         if (!page.ok()) return SendStatus(res, page.status());
         Reply(res, svc.Peers(BearerToken(req), *page),
               [](const std::vector<dirapi::PeerInfo>& peers) { return dirapi::ToJson(peers); });
       }),
       {}});
  routes.Add({"GET",
              "/api/v1/peers/{id}/files",
              reads_on_loop,
              Whole([&svc](const HttpRequest& req, const PathParams& params, HttpResponse& res) {
                if (RefuseBadPeerId(params[0], res)) return;
                auto page = ParsePage(req.query, 1000, 10'000);
                if (!page.ok()) return SendStatus(res, page.status());
                Reply(res, svc.PeerFiles(BearerToken(req), params[0], *page),
                      [](const std::vector<SharedFile>& files) { return dirapi::ToJson(files); });
              }),
              {}});
  routes.Add({"GET",
              "/api/v1/sources",
              reads_on_loop,
              Whole([&svc](const HttpRequest& req, const PathParams&, HttpResponse& res) {
                auto query = ParseSources(req.query);
                if (!query.ok()) return SendStatus(res, query.status());
                Reply(res, svc.Sources(BearerToken(req), query->sha256, query->limit),
                      [](const std::vector<dirapi::ContentSource>& sources) {
                        return dirapi::ToJson(sources);
                      });
              }),
              {}});
  // A cached answer needs nothing else; a miss asks the store on a pool
  // thread (on the loop with SQLite), without asking the cache again.
  routes.Add({"GET",
              "/api/v1/search",
              true,
              [&svc, reads_on_loop](const HttpRequest& req, const PathParams&,
                                    HttpResponse& res) -> PoolWork {
                auto query = ParseSearch(req.query);
                if (!query.ok()) {
                  SendStatus(res, query.status());
                  return {};
                }
                std::string token = BearerToken(req);
                bool cache_missed = false;
                if (auto answer = svc.SearchOnLoop(token, *query, &cache_missed)) {
                  ReplySearch(res, *answer);
                  return {};
                }
                if (reads_on_loop) {
                  ReplySearch(res, svc.Search(token, *query, cache_missed));
                  return {};
                }
                return [&svc, token = std::move(token), query = std::move(*query),
                        cache_missed](HttpResponse& out) {
                  ReplySearch(out, svc.Search(token, query, cache_missed));
                };
              },
              {}});
  routes.Add(
      {"GET",
       "/healthz",
       reads_on_loop,
       Whole([&svc](const HttpRequest&, const PathParams&, HttpResponse& res) {
         Status health = svc.Health();
         if (!health.ok()) {
           return SendJson(res, 503, json{{"status", "unavailable"}, {"error", health.message()}});
         }
         SendJson(res, 200, json{{"status", "ok"}});
       }),
       {}});
  routes.Add({"GET",
              "/metrics",
              true,
              Whole([this](const HttpRequest&, const PathParams&, HttpResponse& res) {
                ReplyMetrics(res);
              }),
              {}});
  return routes;
}

}  // namespace ferry
