#include "directory/search_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "directory_api/wire_json.h"

namespace ferry {
namespace {

using nlohmann::json;

// The reference encoding of the wire format, which SearchHitsJson writes faster.
json TreeOf(const std::vector<SearchHit>& hits) { return dirapi::ToJson(hits); }

std::string Dumped(const json& tree) {
  return tree.dump(-1, ' ', false, json::error_handler_t::replace);
}

TEST(SearchJsonTest, NoHitsIsAnEmptyArray) { EXPECT_EQ(SearchHitsJson({}), "[]"); }

TEST(SearchJsonTest, SameBytesAsTheTreeForEveryKindOfName) {
  static constexpr char kControls[] = "tab\tnl\ncr\rbs\bff\fnul\0bell\x07us\x1f";
  std::vector<SearchHit> hits = {
      {"plain.txt", 1, std::string(64, 'a'), {{"p1", "10.0.0.1:7443", std::string(64, 'c')}}},
      {"quote\"back\\slash.txt", 0, std::string(64, 'b'), {}},
      {std::string(kControls, sizeof kControls - 1),
       9'007'199'254'740'993,
       std::string(64, 'd'),
       {{"p1", "[::1]:1", std::string(64, 'e')}, {"p2", "host:2", std::string(64, 'f')}}},
      {"Ärger – 日本語 🎵.flac", -1, std::string(64, '0'), {}},
      {"del\x7f.txt", 5, std::string(64, '1'), {}},
  };
  EXPECT_EQ(SearchHitsJson(hits), Dumped(TreeOf(hits)));
}

TEST(SearchJsonTest, IllFormedUtf8IsReplacedNotPassedOn) {
  // Cannot come through a parsed request, but the answer must stay valid JSON.
  std::vector<SearchHit> hits = {{"bad\xff\xfe.txt", 1, "x", {{"p\xc3", "a:1", "c"}}}};
  std::string out = SearchHitsJson(hits);
  EXPECT_EQ(out, Dumped(TreeOf(hits)));
  json parsed = json::parse(out);
  EXPECT_EQ(parsed[0]["name"], "bad\xEF\xBF\xBD\xEF\xBF\xBD.txt");
}

TEST(SearchJsonTest, AppendJsonStringRoundTrips) {
  for (std::string text : {std::string(""), std::string("\"\\"), std::string("\x01\x02\x03", 3),
                           std::string("a\0b", 3), std::string("é\u2028")}) {
    std::string out;
    AppendJsonString(out, text);
    EXPECT_EQ(json::parse(out).get<std::string>(), text) << out;
  }
}

}  // namespace
}  // namespace ferry
