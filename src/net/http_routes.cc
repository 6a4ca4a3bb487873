#include "net/http_routes.h"

#include <exception>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace ferry {
namespace {

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// The values of the pattern's parameters if `path` matches it.
std::optional<PathParams> MatchPattern(const std::vector<std::string>& pattern,
                                       std::string_view path) {
  PathParams params;
  size_t start = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (start > path.size()) return std::nullopt;
    size_t slash = path.find('/', start);
    const bool last = i + 1 == pattern.size();
    if (last != (slash == std::string_view::npos)) return std::nullopt;
    std::string_view segment = path.substr(start, slash - start);
    if (IsParam(pattern[i])) {
      if (segment.empty()) return std::nullopt;
      params.emplace_back(segment);
    } else if (segment != pattern[i]) {
      return std::nullopt;
    }
    start = last ? path.size() + 1 : slash + 1;
  }
  return params;
}

}  // namespace

void SendHttpError(HttpResponse& response, int status, std::string_view message) {
  response.status = status;
  response.SetBody(nlohmann::json{{"error", message}}.dump(
                       -1, ' ', false, nlohmann::json::error_handler_t::replace),
                   "application/json");
}

HttpRoutes::HttpRoutes(HttpRouteOptions options) : options_(std::move(options)) {}

void HttpRoutes::Add(HttpRoute route) {
  std::vector<std::string> segments = Segments(route.pattern);
  entries_.push_back(Entry{std::move(route), std::move(segments)});
}

RouteMatch HttpRoutes::Match(std::string_view method, std::string_view path) const {
  if (method == "HEAD") method = "GET";
  RouteMatch match;
  for (const Entry& entry : entries_) {
    auto params = MatchPattern(entry.segments, path);
    if (!params) continue;
    match.pattern = entry.route.pattern;
    if (entry.route.method == method) {
      match.route = &entry.route;
      match.params = std::move(*params);
      match.allowed.clear();
      return match;
    }
    match.allowed.push_back(entry.route.method);
  }
  return match;
}

size_t HttpRoutes::BodyLimit(const RouteMatch& match, const HttpRequest& head) const {
  if (match.route == nullptr || !match.route->body_limit) return options_.body_limit;
  return match.route->body_limit(head);
}

void HttpRoutes::Finish(std::string_view pattern, const HttpResponse& response,
                        std::chrono::steady_clock::time_point start) const {
  if (options_.on_answered) {
    options_.on_answered(pattern, response.status, std::chrono::steady_clock::now() - start);
  }
}

PoolWork HttpRoutes::StartOnLoop(const RouteMatch& match, const HttpRequest& request,
                                 HttpResponse& response) const {
  auto start = std::chrono::steady_clock::now();
  if (match.route == nullptr) {
    if (match.allowed.empty()) {
      SendHttpError(response, 404, fmt::format("no route {}", request.path));
    } else {
      response.SetHeader("Allow", fmt::format("{}", fmt::join(match.allowed, ", ")));
      SendHttpError(response, 405,
                    fmt::format("{} takes {}, not {}", match.pattern,
                                fmt::join(match.allowed, " or "), request.method));
    }
    Finish(match.pattern, response, start);
    return {};
  }
  // Runs `step` as the route's handler, answering 500 if it throws.
  auto guarded = [this, &match, &request](HttpResponse& out, auto&& step) -> PoolWork {
    try {
      return step(out);
    } catch (const std::exception& e) {
      spdlog::error("{}: {} {} failed: {}", options_.name, request.method, match.pattern, e.what());
      out.headers.clear();
      out.stream.reset();
      SendHttpError(out, 500,
                    fmt::format("internal error; the {}'s log has the details", options_.name));
      return {};
    }
  };
  // What runs on a pool thread: `work`, then the record of the answer.
  auto on_pool = [this, &match, &request, guarded](PoolWork work) -> PoolWork {
    return [this, &match, &request, guarded, work = std::move(work)](HttpResponse& out) {
      auto pool_start = std::chrono::steady_clock::now();
      guarded(out, [&](HttpResponse& o) -> PoolWork {
        work(o);
        return {};
      });
      Finish(match.pattern, out, pool_start);
    };
  };
  const HttpRoute& route = *match.route;
  if (!route.answered_on_loop) {
    return on_pool([&route, &match, &request](HttpResponse& out) {
      PoolWork rest = route.handler(request, match.params, out);
      if (rest) rest(out);
    });
  }
  PoolWork rest = guarded(
      response, [&](HttpResponse& out) { return route.handler(request, match.params, out); });
  if (rest) return on_pool(std::move(rest));
  Finish(match.pattern, response, start);
  return {};
}

void HttpRoutes::Answer(const HttpRequest& request, HttpResponse& response) const {
  RouteMatch match = Match(request.method, request.path);
  if (PoolWork rest = StartOnLoop(match, request, response)) rest(response);
}

}  // namespace ferry
