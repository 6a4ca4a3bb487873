#include "peer/ui_assets.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(UiAssetsTest, RootIsThePageWithItsScript) {
  const UiAsset* page = FindUiAsset("/");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->path, "/");
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page->body.substr(0, 15), "<!doctype html>");
  EXPECT_NE(page->body.find(R"(<script src="/app.js")"), std::string_view::npos);
  EXPECT_NE(page->body.find(R"(href="/app.css")"), std::string_view::npos);
  EXPECT_NE(page->body.find("</html>"), std::string_view::npos);
}

TEST(UiAssetsTest, ScriptAndStyleHaveTheirContentTypes) {
  const UiAsset* script = FindUiAsset("/app.js");
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(script->body.find("new EventSource('/api/v1/events')"), std::string_view::npos);

  const UiAsset* style = FindUiAsset("/app.css");
  ASSERT_NE(style, nullptr);
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
  EXPECT_NE(style->body.find("@media"), std::string_view::npos);
}

TEST(UiAssetsTest, UnknownPathsAreNull) {
  EXPECT_EQ(FindUiAsset(""), nullptr);
  EXPECT_EQ(FindUiAsset("/index.html"), nullptr);  // the page is served at "/" only
  EXPECT_EQ(FindUiAsset("/app.js/"), nullptr);
  EXPECT_EQ(FindUiAsset("/../CMakeLists.txt"), nullptr);
  EXPECT_EQ(FindUiAsset("/nope.js"), nullptr);
  EXPECT_EQ(FindUiAsset("app.js"), nullptr);
}

}  // namespace
}  // namespace ferry
