// The P2P directory's client commands: register, search and peers. They talk
// to `ferry directory` through client/directory_client.h; this layer only
// resolves settings and prints.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "cli/client_settings.h"
#include "client/directory_client.h"

namespace ferry {

// Adds `register`, `search` and `peers`, plus the global --directory URL.
// --user, --ca-cert and --trust-new-server come from `flags` (AddClientFlags).
// Each command sets *exit_code when it runs.
void AddDirectoryClientCommands(CLI::App& app, ClientFlags& flags, int* exit_code);

// Where to find the directory and who to be there: --directory, then
// FERRY_DIRECTORY, then "directory" in the config file, then
// https://127.0.0.1:7080; the user as for the file client; the password from
// stdin (`password_stdin`), FERRY_PASSWORD or the terminal (asked twice when
// `new_password`). The CA file: --ca-cert, FERRY_DIRECTORY_CA_CERT or
// "directory_ca_cert" in the config file (the file server's FERRY_CA_CERT is
// another server's).
struct DirectoryLogin {
  dirclient::DirectoryClientOptions options;
  std::string user;
  std::string password;
};
Result<DirectoryLogin> ResolveDirectoryLogin(const ClientFlags& flags, const std::string& url_flag,
                                             bool password_stdin, bool new_password);

}  // namespace ferry
