// The values the directory and its clients exchange (docs/directory-api.md),
// defined once for both ends. Their rules are in wire_rules.h and their JSON
// in wire_json.h. Times are Unix seconds, as on the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::dirapi {

// A file a peer shares.
struct SharedFile {
  std::string path;    // relative, '/'-separated (ValidateSharedPath)
  int64_t size = 0;    // bytes
  std::string sha256;  // 64 lower-case hex digits
  int64_t mtime = 0;   // Unix seconds
  // The root of the tree of the file's chunk hashes (docs/protocol.md, "Chunk
  // hashes and their root"), 64 lower-case hex digits; empty when the peer
  // announced none. It lets a fetcher check the chunk hashes a peer sends.
  std::string chunk_root;
};

// POST /api/v1/register and /api/v1/login.
struct Credentials {
  std::string username;
  std::string password;
};

// POST /api/v1/announce. Without a peer_id it announces a new peer: address,
// cert_sha256 and files (the whole list, perhaps empty) are required and
// added/removed must be empty. With one it updates that peer: any of address,
// cert_sha256 and files (a whole new list) may be given, and added/removed
// carry what changed.
struct Announcement {
  std::optional<std::string> peer_id;
  std::optional<std::string> address;      // "host:port" where the peer serves
  std::optional<std::string> cert_sha256;  // of the peer's TLS certificate (DER)
  std::optional<std::vector<SharedFile>> files;
  std::vector<SharedFile> added;
  std::vector<std::string> removed;  // paths
};

// The answer to an announce or a heartbeat.
struct PeerLease {
  std::string peer_id;
  int heartbeat_seconds = 0;  // announce or heartbeat again within this
};

// The answer to a login.
struct LoginInfo {
  std::string token;
  std::string username;
  int64_t expires_at = 0;  // Unix seconds
};

// The answer to GET /api/v1/verify.
struct TokenInfo {
  std::string username;
  int64_t expires_at = 0;  // Unix seconds
};

// One online peer in GET /api/v1/peers.
struct PeerInfo {
  std::string peer_id;
  std::string username;
  std::string address;  // "host:port"
  std::string cert_sha256;
  int64_t files = 0;      // how many it shares
  int64_t last_seen = 0;  // Unix seconds
};

// Where to fetch a search hit from.
struct PeerAddress {
  std::string peer_id;
  std::string address;
  std::string cert_sha256;
};

// One online peer that has a content, in GET /api/v1/sources: where to fetch
// it from and what the peer announced of it.
struct ContentSource {
  PeerAddress peer;
  int64_t size = 0;
  std::string chunk_root;  // empty when the peer announced none
};

// One file found: the same name, size and content on one or more online peers.
struct SearchHit {
  std::string name;  // the last component of the path
  int64_t size = 0;
  std::string sha256;
  std::vector<PeerAddress> peers;  // ordered by peer_id
};

// POST /api/v1/tickets: a fetcher asks for a ticket to show one serving peer.
struct TicketRequest {
  std::string peer_id;  // the serving peer
};

// The answer: a ticket that names the fetcher to that one peer, and only while
// it lasts. It is a secret like a token, but worth nothing on the directory
// itself, so a peer shown one cannot act as the fetcher there.
struct Ticket {
  std::string ticket;  // 64 lower-case hex digits (kTicketHexDigits)
  std::string peer_id;
  int64_t expires_at = 0;  // Unix seconds
};

// POST /api/v1/tickets/check: a serving peer's owner asks who holds a ticket
// shown to that peer.
struct TicketCheck {
  std::string peer_id;  // the caller's own serving peer
  std::string ticket;
};

// The answer to a check: the user the ticket was issued to.
struct TicketHolder {
  std::string username;
  int64_t expires_at = 0;  // Unix seconds: cache the answer no longer than this
};

}  // namespace ferry::dirapi
