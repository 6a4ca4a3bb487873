// The web UI's static files (web/), built into the binary.
#pragma once
#include <string_view>
namespace ferry {
struct UiAsset {
  std::string_view path;          // "/", "/app.js", "/app.css"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};
// The asset served at `path` ("/" is index.html), or null.
const UiAsset* FindUiAsset(std::string_view path);
}  // namespace ferry
