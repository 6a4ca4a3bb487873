#include "net/http_routes.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/http_stream.h"

namespace ferry {
namespace {

// What the handlers and the on_answered hook saw.
struct Seen {
  std::vector<std::string> handled;   // "METHOD PATTERN param,param"
  std::vector<std::string> answered;  // "PATTERN STATUS"
};

HttpRoute Route(Seen& seen, std::string method, std::string pattern, bool on_loop = true) {
  HttpRoute route;
  route.method = method;
  route.pattern = pattern;
  route.answered_on_loop = on_loop;
  route.handler = [&seen, method, pattern](const HttpRequest&, const PathParams& params,
                                           HttpResponse& res) -> PoolWork {
    std::string line = method + " " + pattern;
    for (size_t i = 0; i < params.size(); ++i) line += (i ? "," : " ") + params[i];
    seen.handled.push_back(line);
    res.SetBody("{}", "application/json");
    return {};
  };
  return route;
}

class HttpRoutesTest : public ::testing::Test {
 protected:
  HttpRoutesTest() : routes_(Options()) {
    routes_.Add(Route(seen_, "GET", "/api/v1/peers"));
    routes_.Add(Route(seen_, "GET", "/api/v1/peers/{id}/files"));
    routes_.Add(Route(seen_, "DELETE", "/api/v1/peers/{id}", false));
    routes_.Add(Route(seen_, "POST", "/api/v1/announce", false));
  }
  HttpRouteOptions Options() {
    HttpRouteOptions options;
    options.name = "test";
    options.on_answered = [this](std::string_view pattern, int status, std::chrono::nanoseconds) {
      seen_.answered.push_back(std::string(pattern) + " " + std::to_string(status));
    };
    return options;
  }
  HttpResponse Answer(const std::string& method, const std::string& target) {
    HttpResponse res;
    routes_.Answer(HttpRequest::For(method, target), res);
    return res;
  }

  Seen seen_;
  HttpRoutes routes_;
};

TEST_F(HttpRoutesTest, EachRequestRunsOneHandlerWithItsPathParams) {
  EXPECT_EQ(Answer("GET", "/api/v1/peers?limit=5").status, 200);
  EXPECT_EQ(Answer("GET", "/api/v1/peers/abc/files").status, 200);
  EXPECT_EQ(Answer("DELETE", "/api/v1/peers/abc").status, 200);
  EXPECT_EQ(seen_.handled,
            (std::vector<std::string>{"GET /api/v1/peers", "GET /api/v1/peers/{id}/files abc",
                                      "DELETE /api/v1/peers/{id} abc"}));
  EXPECT_EQ(seen_.answered,
            (std::vector<std::string>{"/api/v1/peers 200", "/api/v1/peers/{id}/files 200",
                                      "/api/v1/peers/{id} 200"}));
}

TEST_F(HttpRoutesTest, UnknownPathsAre404WithTheDecodedPath) {
  for (const char* target : {"/nowhere", "/api/v1/peers/", "/api/v1/peers//files",
                             "/api/v1/peers/abc/files/", "/api/v1/peers/a/b", "/api/v1/peer"}) {
    HttpResponse res = Answer("GET", target);
    EXPECT_EQ(res.status, 404) << target;
    EXPECT_EQ(res.body, R"({"error":"no route )" + HttpRequest::For("GET", target).path + "\"}")
        << target;
  }
  EXPECT_EQ(Answer("GET", "/no%20where").body, R"({"error":"no route /no where"})");
  EXPECT_TRUE(seen_.handled.empty());
  EXPECT_EQ(seen_.answered.front(), " 404");
}

TEST_F(HttpRoutesTest, AWrongMethodIs405WithAllow) {
  HttpResponse res = Answer("PUT", "/api/v1/announce");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.Header("Allow"), "POST");
  EXPECT_EQ(res.body, R"({"error":"/api/v1/announce takes POST, not PUT"})");
  HttpResponse get = Answer("GET", "/api/v1/peers/abc");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.Header("allow"), "DELETE");
  EXPECT_TRUE(seen_.handled.empty());
  EXPECT_EQ(seen_.answered,
            (std::vector<std::string>{"/api/v1/announce 405", "/api/v1/peers/{id} 405"}));
}

TEST_F(HttpRoutesTest, HeadIsAnsweredByTheGetRoute) {
  EXPECT_EQ(Answer("HEAD", "/api/v1/peers").status, 200);
  EXPECT_EQ(seen_.handled, (std::vector<std::string>{"GET /api/v1/peers"}));
  EXPECT_EQ(Answer("HEAD", "/api/v1/announce").status, 405);
}

TEST_F(HttpRoutesTest, OnlyRoutesAnsweredOnTheLoopRunThere) {
  HttpRequest get = HttpRequest::For("GET", "/api/v1/peers");
  RouteMatch match = routes_.Match(get.method, get.path);
  HttpResponse res;
  EXPECT_FALSE(routes_.StartOnLoop(match, get, res));
  EXPECT_EQ(seen_.handled.size(), 1u);

  HttpRequest post = HttpRequest::For("POST", "/api/v1/announce");
  RouteMatch post_match = routes_.Match(post.method, post.path);
  HttpResponse later;
  PoolWork work = routes_.StartOnLoop(post_match, post, later);
  ASSERT_TRUE(work);
  EXPECT_EQ(seen_.handled.size(), 1u) << "a pool route ran on the loop";
  EXPECT_TRUE(later.body.empty());
  work(later);
  EXPECT_EQ(seen_.handled.back(), "POST /api/v1/announce");
  EXPECT_EQ(seen_.answered.back(), "/api/v1/announce 200");
}

TEST(HttpRoutesStandaloneTest, ALoopHandlerMayLeaveTheRestToThePool) {
  std::vector<std::string> steps;
  HttpRoutes routes;
  HttpRoute route;
  route.method = "GET";
  route.pattern = "/search";
  route.answered_on_loop = true;
  route.handler = [&](const HttpRequest& req, const PathParams&, HttpResponse&) -> PoolWork {
    steps.push_back("loop");
    if (req.query.find("cached") != req.query.end()) return {};
    return [&](HttpResponse& res) {
      steps.push_back("pool");
      res.status = 201;
    };
  };
  routes.Add(std::move(route));
  HttpRequest hit = HttpRequest::For("GET", "/search?cached=1");
  HttpResponse res;
  EXPECT_FALSE(routes.StartOnLoop(routes.Match("GET", "/search"), hit, res));
  HttpRequest miss = HttpRequest::For("GET", "/search");
  RouteMatch match = routes.Match("GET", "/search");
  HttpResponse missed;
  PoolWork rest = routes.StartOnLoop(match, miss, missed);
  ASSERT_TRUE(rest);
  rest(missed);
  EXPECT_EQ(missed.status, 201);
  EXPECT_EQ(steps, (std::vector<std::string>{"loop", "loop", "pool"}));
}

TEST(HttpRoutesStandaloneTest, AThrowingHandlerIsA500) {
  HttpRouteOptions options;
  options.name = "unit";
  HttpRoutes routes(options);
  HttpRoute route;
  route.method = "POST";
  route.pattern = "/boom";
  route.handler = [](const HttpRequest&, const PathParams&, HttpResponse& res) -> PoolWork {
    res.SetHeader("X-Half", "done");
    res.stream = std::make_shared<HttpStream>();
    throw std::runtime_error("boom");
  };
  routes.Add(std::move(route));
  HttpResponse res;
  routes.Answer(HttpRequest::For("POST", "/boom"), res);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body, R"({"error":"internal error; the unit's log has the details"})");
  EXPECT_EQ(res.Header("X-Half"), "");
  EXPECT_EQ(res.stream, nullptr);  // the 500 is sent whole, not streamed
}

TEST(HttpMessageTest, TargetsSplitIntoDecodedPathAndQuery) {
  HttpRequest req = HttpRequest::For("GET", "/a%20b+c?q=x+y%21&q=2&flag&=dropped&bad=%zz");
  EXPECT_EQ(req.path, "/a b+c");
  EXPECT_EQ(req.query.count("q"), 2u);
  EXPECT_EQ(req.query.find("q")->second, "x y!");
  EXPECT_EQ(req.query.find("flag")->second, "");
  EXPECT_EQ(req.query.find("bad")->second, "%zz");
  EXPECT_EQ(req.query.size(), 4u);
  EXPECT_EQ(DecodeUrl("%4", false), "%4");
  EXPECT_EQ(DecodeUrl("%41%42", false), "AB");
}

TEST(HttpMessageTest, HeadersAreFoundInAnyCaseAndReplaced) {
  HttpRequest req;
  req.headers = {{"Authorization", "Bearer x"}};
  EXPECT_EQ(req.Header("authorization"), "Bearer x");
  EXPECT_EQ(req.Header("Host"), "");
  HttpResponse res;
  res.SetHeader("Retry-After", "1");
  res.SetHeader("retry-after", "30");
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.Header("RETRY-AFTER"), "30");
}

}  // namespace
}  // namespace ferry
