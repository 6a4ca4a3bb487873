// The web UI's routes (docs/peer-ui.md): the page's assets, the JSON API
// and the live event feed, each behind UiAccess, over the parts of the peer
// they show and act on.
#pragma once

#include <cstddef>

#include "net/http_routes.h"
#include "peer/ui_access.h"
#include "peer/ui_server.h"

namespace ferry {

// The largest request body the UI takes (the API's bodies are small JSON).
inline constexpr size_t kUiBodyLimit = 16 << 10;
// Connections to the UI open at once; more are reset when accepted.
inline constexpr int kUiMaxConnections = 64;

// The route table; `access` and `parts` outlive it.
HttpRoutes MakeUiRoutes(const UiAccess& access, const UiParts& parts);

}  // namespace ferry
