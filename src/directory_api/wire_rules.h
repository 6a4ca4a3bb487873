// The rules every value on the directory's wire obeys (docs/directory-api.md),
// one function per rule. The directory checks requests with them and its
// clients check replies (and their own requests) with the same functions, so
// the two ends cannot drift apart. Pure functions, no I/O.
//
// Errors are INVALID_ARGUMENT with a message a person understands, naming the
// rule; callers add which field or entry broke it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry::dirapi {

// A peer id is what the directory makes at a peer's first announce: 16 random
// bytes written as 32 lower-case hex digits. Nothing else is one; ids go into
// URL paths, so this also keeps every route's path to plain hex.
inline constexpr size_t kPeerIdHexDigits = 32;
// Most entries in each of an announce's `files`, `added` and `removed`, and
// so the most files one peer shares.
inline constexpr size_t kMaxFilesPerAnnounce = 100'000;
// The longest shared path (and so the longest file name), in bytes.
inline constexpr size_t kMaxSharedPathBytes = 4096;
// Search text: 1 to this many bytes.
inline constexpr size_t kMaxSearchTextBytes = 256;
// Passwords a login carries: at most this many bytes (register has the fuller
// rule of core/credentials.h).
inline constexpr size_t kMaxPasswordBytes = 1024;
// Announce or heartbeat again within this many seconds: a lease outside 1 to
// this is not one the directory gives.
inline constexpr int kMaxHeartbeatSeconds = 86'400;
// The longest session token a client accepts.
inline constexpr size_t kMaxTokenBytes = 512;
// A ticket is what the directory makes when it issues one: 32 random bytes
// written as 64 lower-case hex digits. Nothing else is one.
inline constexpr size_t kTicketHexDigits = 64;

// True for exactly kPeerIdHexDigits characters from 0-9 a-f.
bool IsPeerId(std::string_view id);
// IsPeerId, as a Status: "'FIELD' must be 32 lower-case hex digits".
Status ValidatePeerId(std::string_view id, std::string_view field = "peer_id");

// True for exactly kTicketHexDigits characters from 0-9 a-f.
bool IsTicket(std::string_view ticket);
// IsTicket, as a Status: "'FIELD' must be 64 lower-case hex digits".
Status ValidateTicket(std::string_view ticket, std::string_view field = "ticket");

// `hex` with A-F lowered: the one form in which hashes are kept and compared.
std::string LowerHex(std::string hex);
// A SHA-256 as it may arrive (64 hex digits, either case), in lower case;
// "'FIELD' must be 64 hex digits" otherwise.
Result<std::string> CanonicalSha256(std::string_view hex, std::string_view field);

// True when `text` has a byte below 0x20 or the byte 0x7f.
bool HasControl(std::string_view text);

// One component of a shared path, which is also what search answers call a
// file's name: 1 to kMaxSharedPathBytes bytes, not "." or "..", no '/' and no
// control characters.
Status ValidateFileName(std::string_view name);
// Relative, '/'-separated, 1 to kMaxSharedPathBytes bytes, every component a
// file name (so no empty, "." or ".." component, no control characters).
Status ValidateSharedPath(std::string_view path);

// An announce list (`files`, `added` or `removed`) of `count` entries: at
// most kMaxFilesPerAnnounce.
Status ValidateListSize(std::string_view field, size_t count);

// Search text: 1 to kMaxSearchTextBytes bytes of UTF-8 without control
// characters.
Status ValidateSearchText(std::string_view text);

// A session token as it travels in "Authorization: Bearer TOKEN": 1 to
// kMaxTokenBytes printable ASCII characters without spaces, so that nothing
// can break out of the header.
Status ValidateBearerToken(std::string_view token);

// A login's password: at most kMaxPasswordBytes bytes. (Any other wrong
// password gets the same 401 as a mismatch.)
Status ValidateLoginPassword(std::string_view password);

}  // namespace ferry::dirapi
