// Registration of the CLI's command groups; main.cc dispatches to them.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/client_settings.h"

namespace ferry {

// Each sets *exit_code when its command runs.
void AddServerCommand(CLI::App& app, int* exit_code);
void AddWorkerCommand(CLI::App& app, int* exit_code);
void AddDirectoryCommand(CLI::App& app, int* exit_code);
void AddUserCommands(CLI::App& app, int* exit_code);
void AddLogCommand(CLI::App& app, int* exit_code);
void AddShellCommand(CLI::App& app, ClientFlags& flags, int* exit_code);

}  // namespace ferry
