// `ferry peer`: the peer daemon's command line. Settings come from flags, then
// the FERRY_* environment, then the peer's own config file (--config), then
// the client config file; peer/peer_daemon.h runs it.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/client_settings.h"

namespace ferry {

// Adds `peer`. --user, --ca-cert and --trust-new-server come from `flags`
// (AddClientFlags). Sets *exit_code when it runs.
void AddPeerCommand(CLI::App& app, ClientFlags& flags, int* exit_code);

}  // namespace ferry
