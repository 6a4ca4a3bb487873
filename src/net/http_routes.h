// A route table: each route named once with its method, its path pattern,
// its handler, and whether it is answered on the loop.
//
// "Answered on the loop" means the handler runs on the event loop that read
// the request, in turn with that loop's other connections, and needs nothing
// but a CPU (no database server, no password hashing). Such a handler may
// still find that it must wait after all (a cache miss): it returns the rest
// of its work, which runs on a pool thread. Routes not answered on the loop
// run on a pool thread from the start.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_message.h"

namespace ferry {

// The rest of an answer, for a pool thread; empty: the answer is complete.
using PoolWork = std::function<void(HttpResponse&)>;
// The values of a pattern's "{...}" segments, in order.
using PathParams = std::vector<std::string>;

struct HttpRoute {
  std::string method;  // a GET route answers HEAD too (the server sends no body)
  // Literal segments, and "{name}" for one non-empty segment:
  // "/api/v1/peers/{id}/files".
  std::string pattern;
  bool answered_on_loop = false;
  std::function<PoolWork(const HttpRequest&, const PathParams&, HttpResponse&)> handler;
  // The largest body a request may have, from its head (method, target,
  // headers; no body yet); null: HttpRouteOptions::body_limit.
  std::function<size_t(const HttpRequest& head)> body_limit;
};

struct HttpRouteOptions {
  std::string name = "http";  // starts log lines
  // The body limit of a request without a route or with a route that sets none.
  size_t body_limit = 16 << 20;
  // Called once a request is answered: its route's pattern ("" for none),
  // the status, and how long the answering handler (or its pool work) took.
  std::function<void(std::string_view pattern, int status, std::chrono::nanoseconds took)>
      on_answered;
};

// What a request's method and path matched: a route, or the refusal.
struct RouteMatch {
  const HttpRoute* route = nullptr;  // null: 404 or 405
  std::string_view pattern;          // the pattern the path matched; "" for 404
  PathParams params;
  // Without a route: the methods the path takes (405), or none (404).
  std::vector<std::string_view> allowed;
};

// Read-only once built: Match and the answering functions are safe from any
// number of threads.
class HttpRoutes {
 public:
  explicit HttpRoutes(HttpRouteOptions options = {});

  // REQUIRES: no other route has the same method and pattern.
  void Add(HttpRoute route);

  RouteMatch Match(std::string_view method, std::string_view path) const;
  // The body limit of a request whose head matched `match`.
  size_t BodyLimit(const RouteMatch& match, const HttpRequest& head) const;

  // Answers what belongs on the loop: a refusal (404 with {"error": "no
  // route PATH"}, 405 with Allow), or a route answered on the loop. Returns
  // the work left for a pool thread (all of it for a route not answered on
  // the loop); empty when `response` is complete. A handler that throws is
  // answered with 500 and logged. REQUIRES: `match` and `request` outlive
  // the returned work.
  PoolWork StartOnLoop(const RouteMatch& match, const HttpRequest& request,
                       HttpResponse& response) const;
  // Matches and answers `request` whole on the calling thread (tests, fuzzing).
  void Answer(const HttpRequest& request, HttpResponse& response) const;

 private:
  struct Entry {
    HttpRoute route;
    std::vector<std::string> segments;
  };
  void Finish(std::string_view pattern, const HttpResponse& response,
              std::chrono::steady_clock::time_point start) const;

  HttpRouteOptions options_;
  std::vector<Entry> entries_;
};

// Sets `response` to `status` with {"error": message}.
void SendHttpError(HttpResponse& response, int status, std::string_view message);

}  // namespace ferry
