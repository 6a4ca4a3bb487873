#include "directory/search_json.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "core/rel_path.h"

namespace ferry {
namespace {

bool NeedsEscape(unsigned char c) { return c == '"' || c == '\\' || c < 0x20; }

void AppendEscaped(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default: {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
}

void AppendInt(std::string& out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  if (!IsValidUtf8(text)) {
    // Cannot come from a parsed request; nlohmann's replacement keeps the
    // answer valid JSON all the same.
    out += nlohmann::json(std::string(text))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  size_t plain = 0;  // start of the run not yet copied
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (!NeedsEscape(c)) continue;
    out.append(text, plain, i - plain);
    AppendEscaped(out, c);
    plain = i + 1;
  }
  out.append(text, plain);
  out += '"';
}

std::string SearchHitsJson(const std::vector<SearchHit>& hits) {
  size_t estimate = 2;
  for (const auto& hit : hits) estimate += 128 + hit.name.size() + 160 * hit.peers.size();
  std::string out;
  out.reserve(estimate);
  out += '[';
  for (size_t h = 0; h < hits.size(); ++h) {
    const SearchHit& hit = hits[h];
    if (h > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, hit.name);
    out += ",\"peers\":[";
    for (size_t p = 0; p < hit.peers.size(); ++p) {
      const PeerAddress& peer = hit.peers[p];
      if (p > 0) out += ',';
      out += "{\"address\":";
      AppendJsonString(out, peer.address);
      out += ",\"cert_sha256\":";
      AppendJsonString(out, peer.cert_sha256);
      out += ",\"peer_id\":";
      AppendJsonString(out, peer.peer_id);
      out += '}';
    }
    out += "],\"sha256\":";
    AppendJsonString(out, hit.sha256);
    out += ",\"size\":";
    AppendInt(out, hit.size);
    out += '}';
  }
  out += ']';
  return out;
}

SharedSearchAnswer EncodeSearchAnswer(std::vector<SearchHit> hits) {
  auto answer = std::make_shared<SearchAnswer>();
  answer->json = SearchHitsJson(hits);
  answer->hits = std::move(hits);
  return answer;
}

}  // namespace ferry
