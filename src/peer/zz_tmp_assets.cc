#include "peer/ui_assets.h"
namespace ferry {
const UiAsset* FindUiAsset(std::string_view path) {
  static const UiAsset page{"/", "text/html; charset=utf-8", "<html>tmp</html>"};
  return path == "/" ? &page : nullptr;
}
}  // namespace ferry
