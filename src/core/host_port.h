// The one parser of "host:port" text: listen addresses, servers to dial,
// peer addresses, and the authority of redis:// and postgresql:// URLs.
//
// Accepted forms: "host:port", "[IPv6]:port", and, where the caller gives a
// default port, "host" and "[IPv6]" alone. A host with a ':' must be an IPv6
// address in brackets ("::1:80" is ambiguous and refused). The port is
// decimal digits without a sign or leading zeros, so that one address has one
// spelling (known_servers keys on it).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry {

struct HostPort {
  std::string host;  // without brackets; may be "" only with allow_empty_host
  int port = 0;

  // "host:port", or "[host]:port" when the host is an IPv6 address.
  std::string ToString() const;
  // The host as written before ":port": bracketed when it is IPv6.
  std::string BracketedHost() const;
  bool operator==(const HostPort&) const = default;
};

struct HostPortRules {
  // Names the text in error messages: "--listen", "server address".
  std::string_view what = "address";
  // The port when the text has none; nullopt: the port is required.
  std::optional<int> default_port;
  // The lowest port accepted: 0 where the system picks one (listening).
  int min_port = 1;
  // Whether ":port" (every address, for listening) is accepted.
  bool allow_empty_host = false;
};

// The rules for an address to listen on: port 0 lets the system pick one,
// and an empty host (":PORT") or "*" means every address of the machine.
HostPortRules ListenRules(std::string_view what = "--listen");

// Splits `text` into host and port under `rules`. INVALID_ARGUMENT, with a
// message that quotes `text` under `rules.what`, when the text has no port
// (and there is no default), the port is not a number in
// [rules.min_port, 65535], a bracketed host is not an IPv6 address, an
// unbracketed host holds ':', or the host is empty (unless allowed) or holds
// whitespace, control characters or one of "/@?#[]".
Result<HostPort> ParseHostPort(std::string_view text, const HostPortRules& rules = {});

}  // namespace ferry
