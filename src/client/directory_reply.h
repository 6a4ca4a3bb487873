// Reading the directory's JSON replies (docs/directory-api.md) with
// directory_api's decoding, which checks every field against the wire rules
// (directory_api/wire_rules.h): peer ids are 32 lower-case hex digits (they go
// into URLs), addresses are HOST:PORT, hashes are 64 hex digits (kept in lower
// case), names and paths have no empty, "." or ".." component and no control
// characters. A reply that does not fit is INTERNAL, naming the field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/directory_client.h"
#include "core/status.h"
#include "directory_api/wire_rules.h"
#include "directory_api/wire_types.h"

namespace ferry::dirclient {

using dirapi::HasControl;

Result<nlohmann::json> ParseJson(const std::string& body);

Result<std::vector<dirapi::PeerInfo>> ParsePeers(const std::string& body);
Result<std::vector<dirapi::SharedFile>> ParseFiles(const std::string& body);
Result<std::vector<dirapi::SearchHit>> ParseHits(const std::string& body);
Result<std::vector<dirapi::ContentSource>> ParseSources(const std::string& body);
Result<dirapi::PeerLease> ParseLease(const std::string& body);
Result<dirapi::LoginInfo> ParseLogin(const std::string& body);
Result<dirapi::TokenInfo> ParseTokenInfo(const std::string& body);
Result<dirapi::Ticket> ParseTicket(const std::string& body);
Result<dirapi::TicketHolder> ParseTicketHolder(const std::string& body);
// The name in register's reply.
Result<std::string> ParseRegistered(const std::string& body);
// The "error" of an error reply, or "" when there is none.
std::string ParseErrorMessage(const std::string& body);

// ASCII letters lowered (URL schemes, hex).
std::string Lower(std::string s);
// HOST:PORT as the client accepts a peer's address.
bool IsPeerAddress(const std::string& s);
// IsPeerAddress as the AddressRule of directory_api's decoding.
Status CheckPeerAddress(std::string_view address);

}  // namespace ferry::dirclient
