// JSON from untrusted bytes, refused before it is built when it nests too
// deep or repeats a key in one object: a document deeper than the limit costs
// a scan up to that depth, not a tree of every level.
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace ferry {

inline constexpr int kDefaultMaxJsonDepth = 32;

// The document in `text`, or INVALID_ARGUMENT saying why not: not valid JSON
// (including invalid UTF-8), arrays and objects nested more than `max_depth`
// deep (a top-level object is depth 1), or a key given twice in one object.
Result<nlohmann::json> ParseStrictJson(std::string_view text, int max_depth);

}  // namespace ferry
