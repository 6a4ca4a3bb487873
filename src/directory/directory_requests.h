// The directory's request bodies and query parameters: parsed from untrusted
// bytes into checked values, or INVALID_ARGUMENT naming the field at fault.
// Pure functions with no I/O, so the fuzz target drives them directly. Bodies
// are parsed by ParseStrictJson: deeper than `max_json_depth`, or with a key
// twice in one object, they are refused unbuilt; their fields are then read
// by directory_api/wire_json.h, the decoding every client shares.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "directory/directory_store.h"
#include "directory/strict_json.h"
#include "directory_api/wire_json.h"
#include "directory_api/wire_rules.h"
#include "directory_api/wire_types.h"

namespace ferry {

// The request bodies' types and rules, as directory_api defines them.
using dirapi::Announcement;
using dirapi::Credentials;
using dirapi::CredentialUse;
using dirapi::IsPeerId;

struct Page {
  int limit = 0;
  int offset = 0;
};

// DecodeCredentials after ParseStrictJson.
Result<Credentials> ParseCredentials(std::string_view body,
                                     CredentialUse use = CredentialUse::kRegister,
                                     int max_json_depth = kDefaultMaxJsonDepth);
// DecodeAnnouncement after ParseStrictJson, with addresses checked by
// ValidatePeerAddress.
Result<Announcement> ParseAnnounce(std::string_view body,
                                   int max_json_depth = kDefaultMaxJsonDepth);
// {"peer_id": "..."}: the peer id.
Result<std::string> ParseHeartbeat(std::string_view body,
                                   int max_json_depth = kDefaultMaxJsonDepth);

// DecodeTicketRequest and DecodeTicketCheck after ParseStrictJson.
Result<dirapi::TicketRequest> ParseTicketRequest(std::string_view body,
                                                 int max_json_depth = kDefaultMaxJsonDepth);
Result<dirapi::TicketCheck> ParseTicketCheck(std::string_view body,
                                             int max_json_depth = kDefaultMaxJsonDepth);

// limit (default `default_limit`, 1..max_limit) and offset (>= 0) from a query.
Result<Page> ParsePage(const std::multimap<std::string, std::string>& params, int default_limit,
                       int max_limit);
// q=TEXT or sha256=HEX (exactly one) plus the page.
Result<SearchQuery> ParseSearch(const std::multimap<std::string, std::string>& params);

// GET /api/v1/sources: sha256=HEX (once, either case) and a limit.
struct SourcesQuery {
  std::string sha256;  // lower case
  int limit = 0;
};
Result<SourcesQuery> ParseSources(const std::multimap<std::string, std::string>& params);

// "host:port": an IPv4 address, [IPv6] or a DNS name, and a port 1-65535.
Status ValidatePeerAddress(std::string_view address);

}  // namespace ferry
