// Where a client's settings come from: flags, then FERRY_* environment
// variables, then $XDG_CONFIG_HOME/ferry/config, then a prompt on the terminal.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>

#include "client/connection.h"
#include "core/status.h"

namespace ferry {

struct ClientFlags {
  std::string server;
  std::string user;
  std::string ca_cert;
  bool trust_new_server = false;
};

// The "key = value" lines of a config file ('#' starts a comment line);
// NOT_FOUND if it cannot be read.
Result<std::map<std::string, std::string>> ReadConfigFile(const std::string& path);
// The "key = value" lines of $XDG_CONFIG_HOME/ferry/config ({} if there is none).
std::map<std::string, std::string> ReadClientConfig();

// A setting from its flag, else the environment variable `env`, else the
// config file's value (which may be "").
std::string FirstOf(const std::string& flag, const char* env, const std::string& config);

// Adds --server, --user, --ca-cert and --trust-new-server to `app`.
void AddClientFlags(CLI::App& app, ClientFlags& flags);
// Resolves every setting, prompting for what is still missing when possible.
Result<ClientOptions> ResolveClientOptions(const ClientFlags& flags);

}  // namespace ferry
