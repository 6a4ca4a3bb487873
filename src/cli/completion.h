// Shell completion for ferry, generated from the CLI11 command tree so that
// it never drifts from the commands: `ferry completion bash|zsh` prints the
// script (contrib/completion/ holds their output, checked by a test).
// Completes subcommands (nested ones too), each command's flags and the
// global ones, and local file names where a command or a flag takes them.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace ferry {

// The scripts for `app` as it stands when called (every command registered).
std::string BashCompletion(const CLI::App& app);
std::string ZshCompletion(const CLI::App& app);

// Adds the hidden `completion` subcommand. REQUIRES: `app` outlives the
// parse; the scripts are made when the command runs, so they see commands
// registered after this call.
void AddCompletionCommand(CLI::App& app);

}  // namespace ferry
