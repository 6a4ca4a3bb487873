// Reading the directory's JSON replies (docs/directory-api.md) into the
// client's structs. Every field is checked against the API's rules, so that
// what the client hands on is well-formed: peer ids are hex (they go into
// URLs), addresses are HOST:PORT, hashes are 64 hex digits (kept in lower
// case), names and paths have no empty, "." or ".." component and no control
// characters. A reply that does not fit is INTERNAL, naming the field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/directory_client.h"
#include "core/status.h"

namespace ferry::dirclient {

Result<nlohmann::json> ParseJson(const std::string& body);

Result<std::vector<PeerInfo>> ParsePeers(const std::string& body);
Result<std::vector<SharedFile>> ParseFiles(const std::string& body);
Result<std::vector<SearchHit>> ParseHits(const std::string& body);
Result<PeerLease> ParseLease(const std::string& body);
Result<LoginInfo> ParseLogin(const std::string& body);
Result<TokenInfo> ParseTokenInfo(const std::string& body);
// The name in register's reply.
Result<std::string> ParseRegistered(const std::string& body);
// The "error" of an error reply, or "" when there is none.
std::string ParseErrorMessage(const std::string& body);

// The checks, for requests too.
std::string Lower(std::string s);
bool HasControl(std::string_view s);
bool IsPeerId(std::string_view s);
bool IsFileName(std::string_view s);
bool IsSharedPath(std::string_view s);
bool IsPeerAddress(const std::string& s);

}  // namespace ferry::dirclient
