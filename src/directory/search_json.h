// The JSON body of a search answer, written straight into one string.
//
// Search is the directory's heaviest answer (50 hits with their peers is about
// 50 KB). Building it as an nlohmann::json tree first costs about as much as
// the search itself (a map and several strings per object, all allocated and
// freed again; docs/benchmarks.md has the figures). This writes the same
// document, with the same key order and escaping, into one buffer. Tests
// check it is byte for byte what dirapi::ToJson's dump gives.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "directory/directory_store.h"

namespace ferry {

// Appends `text` as a JSON string literal: quotes, backslashes and control
// characters escaped, other UTF-8 as is; ill-formed UTF-8 replaced by U+FFFD.
void AppendJsonString(std::string& out, std::string_view text);

// [{"name", "peers": [{"address", "cert_sha256", "peer_id"}], "sha256", "size"}]
std::string SearchHitsJson(const std::vector<SearchHit>& hits);

// A search's hits with their JSON body, encoded once and then shared: the
// answer cache hands the same bytes to every client that repeats a query, so a
// cached answer costs a copy, not an encoding of 50 KB.
struct SearchAnswer {
  std::vector<SearchHit> hits;
  std::string json;  // SearchHitsJson(hits)
};
using SharedSearchAnswer = std::shared_ptr<const SearchAnswer>;

SharedSearchAnswer EncodeSearchAnswer(std::vector<SearchHit> hits);

}  // namespace ferry
