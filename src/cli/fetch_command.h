// `ferry fetch`: one file from every online peer that has it, through the
// peer's downloader (peer/downloader.h), then exit.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/client_settings.h"

namespace ferry {

// Adds `fetch`. The directory URL is the global --directory that
// AddDirectoryClientCommands adds (call that first); --user, --ca-cert and
// --trust-new-server come from `flags`. Sets *exit_code when it runs.
void AddFetchCommand(CLI::App& app, ClientFlags& flags, int* exit_code);

}  // namespace ferry
