#include "cli/client_settings.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "cli/prompt.h"
#include "core/credentials.h"

namespace ferry {
namespace {}  // namespace

std::string FirstOf(const std::string& flag, const char* env, const std::string& config) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env); v != nullptr && *v != '\0') return v;
  return config;
}

Result<std::map<std::string, std::string>> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(fmt::format("cannot read the config file '{}'", path));
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
      return s;
    };
    out[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

std::map<std::string, std::string> ReadClientConfig() {
  auto config = ReadConfigFile(ConfigDir() + "/config");
  return config.ok() ? std::move(config).value() : std::map<std::string, std::string>{};
}

void AddClientFlags(CLI::App& app, ClientFlags& flags) {
  app.add_option("--server", flags.server,
                 "server HOST:PORT (env FERRY_SERVER; default 127.0.0.1:7070)");
  app.add_option("--user", flags.user,
                 "user name (env FERRY_USER); password from FERRY_PASSWORD or a prompt");
  app.add_option("--ca-cert", flags.ca_cert,
                 "verify the server with this CA certificate instead of pinning");
  app.add_flag("--trust-new-server", flags.trust_new_server,
               "trust an unknown server's certificate without asking (it is remembered)");
}

Result<ClientOptions> ResolveClientOptions(const ClientFlags& flags) {
  auto config = ReadClientConfig();
  ClientOptions o;
  o.server = FirstOf(flags.server, "FERRY_SERVER", config["server"]);
  if (o.server.empty()) o.server = "127.0.0.1:7070";
  o.user = FirstOf(flags.user, "FERRY_USER", config["user"]);
  if (o.user.empty()) {
    auto typed = ReadVisible(fmt::format("user for {}: ", o.server));
    if (!typed || typed->empty()) {
      return Status::InvalidArgument("no user given: use --user NAME or set FERRY_USER");
    }
    o.user = *typed;
  }
  // A name no account can have ("--user -x") is refused here, saying why,
  // rather than by the server as a wrong name or password.
  FERRY_RETURN_IF_ERROR(ValidateUserName(o.user));
  if (const char* pw = std::getenv("FERRY_PASSWORD"); pw != nullptr) {
    o.password = pw;
  } else {
    auto typed = ReadHidden(fmt::format("password for {}@{}: ", o.user, o.server));
    if (!typed) {
      return Status::InvalidArgument(
          "no password: set FERRY_PASSWORD or run from a terminal to be asked");
    }
    o.password = *typed;
  }
  o.trust.ca_cert_file = FirstOf(flags.ca_cert, "FERRY_CA_CERT", config["ca_cert"]);
  o.trust.trust_new_server = flags.trust_new_server;
  o.trust.known_servers_file = ConfigDir() + "/known_servers";
  o.trust.confirm = [](const std::string& q) { return Confirm(q); };
  return o;
}

}  // namespace ferry
