// The job commands: zip, unzip, encrypt, decrypt submit background jobs on the
// server; jobs and job follow and cancel them.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/file_commands.h"

namespace ferry {

void AddJobCommands(CLI::App& app, FileCommandEnv& env);

// The passphrase for an encrypt/decrypt job: from `passphrase_file`, else
// FERRY_PASSPHRASE, else asked on the terminal (twice when `confirm`).
Result<std::string> ResolvePassphrase(const std::string& passphrase_file, bool confirm);

}  // namespace ferry
