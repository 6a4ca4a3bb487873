// The JSON of the directory's wire types (wire_types.h), for both ends: the
// directory decodes requests and encodes answers with these functions, and its
// clients do the reverse with the same ones.
//
// Decoders take a parsed document: how bytes become one is the receiver's
// policy (the directory's strict parser limits depth and refuses duplicate
// keys; bodies are size-limited before that). They check every field against
// wire_rules.h, keep hashes in lower case, treat a null field as a missing
// one, and fail with INVALID_ARGUMENT naming the field, prefixed by where it
// sits ("files[3]: 'sha256' must be 64 hex digits"). A receiver that is a
// client may turn that into its own code.
//
// Addresses ("host:port") are checked by the AddressRule a caller passes:
// their syntax belongs to the one host:port parser, which lives outside this
// layer. Decoders require a string without control characters before asking it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "directory_api/wire_types.h"

namespace ferry::dirapi {

using Json = nlohmann::json;

// OK for a well-formed "host:port", else INVALID_ARGUMENT saying what is wrong.
using AddressRule = Status (*)(std::string_view address);

// ---- encoding: the exact documents docs/directory-api.md shows -------------
Json ToJson(const SharedFile& file);
Json ToJson(const Credentials& credentials);
// Only what is set: no peer_id for a new peer, no empty added/removed.
Json ToJson(const Announcement& announcement);
Json ToJson(const PeerLease& lease);
Json ToJson(const LoginInfo& login);
Json ToJson(const TokenInfo& token);
Json ToJson(const PeerInfo& peer);
Json ToJson(const PeerAddress& peer);
Json ToJson(const SearchHit& hit);
Json ToJson(const ContentSource& source);
Json ToJson(const std::vector<SharedFile>& files);
Json ToJson(const std::vector<PeerInfo>& peers);
Json ToJson(const std::vector<SearchHit>& hits);
Json ToJson(const std::vector<ContentSource>& sources);
Json ToJson(const TicketRequest& request);
Json ToJson(const Ticket& ticket);
Json ToJson(const TicketCheck& check);
Json ToJson(const TicketHolder& holder);
// {"peer_id": ...}: a heartbeat's body.
Json HeartbeatJson(const std::string& peer_id);
// {"username": ...}: register's answer.
Json RegisteredJson(const std::string& username);

// ---- decoding --------------------------------------------------------------
// For register the password must follow core/credentials.h's rules for new
// passwords; a login only bounds its length (ValidateLoginPassword), so any
// other wrong one gets the same 401 as a mismatch.
enum class CredentialUse { kRegister, kLogin };
Result<Credentials> DecodeCredentials(const Json& body, CredentialUse use);
// Every rule of an announce: ids, hashes, paths (unique within each list),
// list sizes, and what a first announce must and must not carry.
Result<Announcement> DecodeAnnouncement(const Json& body, AddressRule address_rule);
// A heartbeat's peer id.
Result<std::string> DecodeHeartbeat(const Json& body);

// Tickets: the bodies of POST /api/v1/tickets and /api/v1/tickets/check, and
// their answers. Peer ids and tickets must be exactly as the directory makes
// them (lower-case hex), never lowered on the way in.
Result<TicketRequest> DecodeTicketRequest(const Json& body);
Result<Ticket> DecodeTicket(const Json& body);
Result<TicketCheck> DecodeTicketCheck(const Json& body);
Result<TicketHolder> DecodeTicketHolder(const Json& body);

// `where` prefixes each error ("files[3]: "); "" at the top of a body.
Result<SharedFile> DecodeSharedFile(const Json& item, std::string_view where);
Result<PeerLease> DecodePeerLease(const Json& body);
Result<LoginInfo> DecodeLoginInfo(const Json& body);
Result<TokenInfo> DecodeTokenInfo(const Json& body);
// Register's answer: the user name.
Result<std::string> DecodeRegistered(const Json& body);
// Arrays: a peer's files, the online peers, search hits, a content's sources.
Result<std::vector<SharedFile>> DecodeSharedFiles(const Json& body);
Result<std::vector<PeerInfo>> DecodePeerInfos(const Json& body, AddressRule address_rule);
Result<std::vector<SearchHit>> DecodeSearchHits(const Json& body, AddressRule address_rule);
Result<std::vector<ContentSource>> DecodeContentSources(const Json& body, AddressRule address_rule);

}  // namespace ferry::dirapi
