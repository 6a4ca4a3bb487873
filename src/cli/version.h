// What `ferry --version` and `ferry version` print.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace ferry {

// "ferry 0.1.0", then the gRPC and OpenSSL versions ferry runs with, a line each.
std::string VersionText();

// Adds --version and the `version` subcommand; each prints VersionText() and
// exits 0.
void AddVersionCommand(CLI::App& app);

}  // namespace ferry
