#include "directory/directory_requests.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/credentials.h"
#include "core/host_port.h"
#include "core/rel_path.h"
#include "core/sha256.h"
#include "directory/strict_json.h"

namespace ferry {
namespace {

using nlohmann::json;

Result<json> ParseObject(std::string_view body, int max_json_depth) {
  auto doc = ParseStrictJson(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return Status::InvalidArgument("the body must be a JSON object");
  return doc;
}

bool IsHostLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!IsHostLabelChar(c)) return false;
    }
    start = dot + 1;
  }
  return true;
}

Result<int> IntParam(const std::multimap<std::string, std::string>& params, const char* name,
                     int fallback, int min, int max) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  if (params.count(name) > 1) {
    return Status::InvalidArgument(fmt::format("'{}' is given more than once", name));
  }
  const std::string& text = it->second;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Status::InvalidArgument(
        fmt::format("'{}' must be a whole number from {} to {}", name, min, max));
  }
  return value;
}

}  // namespace

Result<Credentials> ParseCredentials(std::string_view body, CredentialUse use, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  return dirapi::DecodeCredentials(*doc, use);
}

Result<Announcement> ParseAnnounce(std::string_view body, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  return dirapi::DecodeAnnouncement(*doc, ValidatePeerAddress);
}

Result<std::string> ParseHeartbeat(std::string_view body, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  return dirapi::DecodeHeartbeat(*doc);
}

Result<dirapi::TicketRequest> ParseTicketRequest(std::string_view body, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  return dirapi::DecodeTicketRequest(*doc);
}

Result<dirapi::TicketCheck> ParseTicketCheck(std::string_view body, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  return dirapi::DecodeTicketCheck(*doc);
}

Result<Page> ParsePage(const std::multimap<std::string, std::string>& params, int default_limit,
                       int max_limit) {
  auto limit = IntParam(params, "limit", default_limit, 1, max_limit);
  if (!limit.ok()) return limit.status();
  auto offset = IntParam(params, "offset", 0, 0, 100'000'000);
  if (!offset.ok()) return offset.status();
  return Page{*limit, *offset};
}

Result<SearchQuery> ParseSearch(const std::multimap<std::string, std::string>& params) {
  SearchQuery query;
  bool has_text = params.count("q") > 0;
  bool has_sha = params.count("sha256") > 0;
  if (has_text == has_sha) return Status::InvalidArgument("give either 'q' or 'sha256'");
  if (params.count("q") > 1 || params.count("sha256") > 1) {
    return Status::InvalidArgument("'q' and 'sha256' may be given once");
  }
  if (has_text) {
    query.text = params.find("q")->second;
    FERRY_RETURN_IF_ERROR(dirapi::ValidateSearchText(query.text));
  } else {
    auto hex = dirapi::CanonicalSha256(params.find("sha256")->second, "sha256");
    if (!hex.ok()) return hex.status();
    query.sha256 = std::move(*hex);
  }
  auto page = ParsePage(params, 50, 1000);
  if (!page.ok()) return page.status();
  query.limit = page->limit;
  query.offset = page->offset;
  return query;
}

Result<SourcesQuery> ParseSources(const std::multimap<std::string, std::string>& params) {
  if (params.count("sha256") != 1) return Status::InvalidArgument("give 'sha256' once");
  auto hex = dirapi::CanonicalSha256(params.find("sha256")->second, "sha256");
  if (!hex.ok()) return hex.status();
  if (params.count("offset") > 0) return Status::InvalidArgument("'offset' is not taken here");
  auto page = ParsePage(params, 100, 1000);
  if (!page.ok()) return page.status();
  return SourcesQuery{std::move(*hex), page->limit};
}

Status ValidatePeerAddress(std::string_view address) {
  static const Status kBad = Status::InvalidArgument(
      "'address' must be host:port (an IPv4 address, [IPv6] or a DNS name; port 1-65535)");
  auto parsed = ParseHostPort(address);
  if (!parsed.ok()) return kBad;
  // A host with ':' is an IPv6 address the parser has checked; a zone
  // ("%eth0") means nothing to other machines.
  if (parsed->host.find(':') != std::string::npos) {
    return parsed->host.find('%') == std::string::npos ? Status::Ok() : kBad;
  }
  std::string_view host = parsed->host;
  std::string h(host);
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return Status::Ok();
  // All-digit-and-dot hosts that are not valid IPv4 ("999.1.1.1") are refused.
  if (h.find_first_not_of("0123456789.") == std::string::npos) return kBad;
  return IsDnsName(host) ? Status::Ok() : kBad;
}

}  // namespace ferry
