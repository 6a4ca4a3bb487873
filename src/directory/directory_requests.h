// The directory's request bodies and query parameters: parsed from untrusted
// bytes into checked values, or INVALID_ARGUMENT naming the field at fault.
// Pure functions with no I/O, so the fuzz target drives them directly. Bodies
// are parsed by ParseStrictJson: deeper than `max_json_depth`, or with a key
// twice in one object, they are refused unbuilt.
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

namespace ferry {

// Most files one announce may carry (in `files`, `added` or `removed` each).
inline constexpr size_t kMaxFilesPerAnnounce = 100'000;
inline constexpr size_t kMaxSharedPathBytes = 4096;
inline constexpr size_t kMaxSearchTextBytes = 256;

struct Credentials {
  std::string username;
  std::string password;
};

// A first announce has no peer_id and carries the whole list in `files`
// (address and cert required); a later one names its peer_id and sends what
// changed (added/removed) or a new whole list.
struct AnnounceRequest {
  std::optional<std::string> peer_id;
  std::optional<std::string> address;
  std::optional<std::string> cert_sha256;  // lower case
  std::optional<std::vector<SharedFile>> files;
  std::vector<SharedFile> added;
  std::vector<std::string> removed;
};

struct Page {
  int limit = 0;
  int offset = 0;
};

// For register the password must follow the rules for new passwords; a login
// only checks it against the hash, so any wrong one gets the same 401.
enum class CredentialUse { kRegister, kLogin };
Result<Credentials> ParseCredentials(std::string_view body,
                                     CredentialUse use = CredentialUse::kRegister,
                                     int max_json_depth = kDefaultMaxJsonDepth);
Result<AnnounceRequest> ParseAnnounce(std::string_view body,
                                      int max_json_depth = kDefaultMaxJsonDepth);
// {"peer_id": "..."}: the peer id.
Result<std::string> ParseHeartbeat(std::string_view body,
                                   int max_json_depth = kDefaultMaxJsonDepth);

// limit (default `default_limit`, 1..max_limit) and offset (>= 0) from a query.
Result<Page> ParsePage(const std::multimap<std::string, std::string>& params, int default_limit,
                       int max_limit);
// q=TEXT or sha256=HEX (exactly one) plus the page.
Result<SearchQuery> ParseSearch(const std::multimap<std::string, std::string>& params);

// "host:port": an IPv4 address, [IPv6] or a DNS name, and a port 1-65535.
Status ValidatePeerAddress(std::string_view address);
// Relative, '/'-separated, no empty/./.. component, no control characters.
Status ValidateSharedPath(std::string_view path);
// 32 lower-case hex digits, as the directory makes them.
bool IsPeerId(std::string_view id);

}  // namespace ferry
