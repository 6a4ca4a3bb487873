// Whether a listen address stays on this machine: the check behind flags
// that refuse to expose a plain-HTTP listener to the network without consent
// (--ui-allow-remote, --metrics-allow-remote).
#pragma once

#include <string_view>

namespace ferry {

// True for a host that names this machine's loopback: "localhost", "::1" or
// an address in 127.0.0.0/8 (as ParseHostPort leaves it, without brackets).
bool IsLoopbackHost(std::string_view host);

}  // namespace ferry
