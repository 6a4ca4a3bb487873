#include "cli/peer_commands.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/directory_commands.h"
#include "cli/fail.h"
#include "core/byte_size.h"
#include "core/secrets.h"
#include "peer/peer_daemon.h"

namespace ferry {
namespace {

// What `ferry peer` takes from flags; "" (or 0) when a flag is not given,
// so that the config file can fill it in.
struct PeerFlags {
  std::string config;
  std::string share, downloads, data, directory, listen, advertise, limit_rate, ui_listen;
  bool ui_allow_remote = false;
  int max_uploads = 0;
  int settle_ms = 0;
  int rescan_seconds = 0;
  int hash_threads = -1;
  bool password_stdin = false;
  bool verbose = false;
};

// The keys a peer's config file may hold: one per setting, named after the
// flag ("directory_ca_cert" is --ca-cert, as in the client config file).
constexpr const char* kConfigKeys[] = {
    "share",      "downloads",         "data",      "directory",      "listen",       "advertise",
    "user",       "directory_ca_cert", "settle_ms", "rescan_seconds", "hash_threads", "max_uploads",
    "limit_rate", "ui_listen"};

Result<std::map<std::string, std::string>> ReadPeerConfig(const std::string& path) {
  if (path.empty()) return std::map<std::string, std::string>{};
  auto config = ReadConfigFile(path);
  if (!config.ok()) return config.status();
  for (const auto& [key, value] : *config) {
    bool known = false;
    for (const char* k : kConfigKeys) known = known || key == k;
    if (!known) {
      return Status::InvalidArgument(fmt::format("{}: unknown setting '{}'", path, key));
    }
  }
  return config;
}

std::string Pick(const std::string& flag, const std::string& config, const std::string& fallback) {
  if (!flag.empty()) return flag;
  return config.empty() ? fallback : config;
}

Result<int> PickInt(int flag, int unset, const std::map<std::string, std::string>& config,
                    const char* key, int fallback) {
  if (flag != unset) return flag;
  auto it = config.find(key);
  if (it == config.end() || it->second.empty()) return fallback;
  try {
    size_t used = 0;
    int v = std::stoi(it->second, &used);
    if (used == it->second.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument(
      fmt::format("config setting '{}' must be a whole number, not '{}'", key, it->second));
}

Status Run(const PeerFlags& f, const ClientFlags& client_flags) {
  auto config = ReadPeerConfig(f.config);
  if (!config.ok()) return config.status();
  auto& c = *config;
  PeerOptions o;
  o.share_dir = Pick(f.share, c["share"], "");
  if (o.share_dir.empty()) {
    return Status::InvalidArgument("no share folder: use --share DIR or 'share' in --config");
  }
  o.downloads_dir = Pick(f.downloads, c["downloads"], "");
  o.data_dir = Pick(f.data, c["data"], o.data_dir);
  o.listen = Pick(f.listen, c["listen"], o.listen);
  o.advertise = Pick(f.advertise, c["advertise"], "");
  o.ui_listen = Pick(f.ui_listen, c["ui_listen"], o.ui_listen);
  o.ui_allow_remote = f.ui_allow_remote;
  o.verbose = f.verbose;
  auto settle = PickInt(f.settle_ms, 0, c, "settle_ms", 500);
  if (!settle.ok()) return settle.status();
  o.watch.settle = std::chrono::milliseconds(*settle);
  auto rescan = PickInt(f.rescan_seconds, 0, c, "rescan_seconds", 60);
  if (!rescan.ok()) return rescan.status();
  o.watch.rescan_interval = std::chrono::seconds(std::max(1, *rescan));
  auto threads = PickInt(f.hash_threads, -1, c, "hash_threads", 0);
  if (!threads.ok()) return threads.status();
  o.hash_threads = *threads;
  auto uploads = PickInt(f.max_uploads, 0, c, "max_uploads", o.serve.max_uploads);
  if (!uploads.ok()) return uploads.status();
  o.serve.max_uploads = std::max(1, *uploads);
  std::string rate = Pick(f.limit_rate, c["limit_rate"], "");
  if (!rate.empty()) {
    auto parsed = ParseRate(rate);
    if (!parsed.ok()) return parsed.status();
    o.serve.limit_bytes_per_second = *parsed;
  }

  // The directory and the login: flag, then environment, then this file,
  // then the client config file (ResolveDirectoryLogin).
  ClientFlags login_flags = client_flags;
  login_flags.user = FirstOf(client_flags.user, "FERRY_USER", c["user"]);
  login_flags.ca_cert =
      FirstOf(client_flags.ca_cert, "FERRY_DIRECTORY_CA_CERT", c["directory_ca_cert"]);
  std::string url = FirstOf(f.directory, "FERRY_DIRECTORY", c["directory"]);
  auto login = ResolveDirectoryLogin(login_flags, url, f.password_stdin, false);
  if (!login.ok()) return login.status();
  o.directory = login->options;
  o.user = login->user;
  o.password = std::move(login->password);
  Status s = RunPeer(o);
  Wipe(o.password);
  return s;
}

}  // namespace

void AddPeerCommand(CLI::App& app, ClientFlags& flags, int* exit_code) {
  auto f = std::make_shared<PeerFlags>();
  auto* cmd = app.add_subcommand(
      "peer",
      "share a folder through the P2P directory: index it, watch it, announce it and its "
      "changes, heartbeat, serve its files' chunks to other peers (over TLS, to callers with a "
      "ticket from the directory), and withdraw on SIGINT/SIGTERM.");
  cmd->add_option(
      "--config", f->config,
      "this peer's config file: 'key = value' lines with the keys share, downloads, "
      "data, directory, listen, advertise, user, directory_ca_cert, settle_ms, "
      "rescan_seconds, hash_threads, max_uploads, limit_rate, ui_listen (flags and FERRY_* "
      "variables win)");
  cmd->add_option("--share", f->share, "the folder to share (required, here or in --config)");
  cmd->add_option("--downloads", f->downloads, "where downloads go (default DATA/downloads)");
  cmd->add_option("--data", f->data,
                  "this peer's own folder: TLS key and certificate, share index, log (default "
                  "./ferry-peer; never inside the share)");
  cmd->add_option("--directory", f->directory,
                  "P2P directory URL (env FERRY_DIRECTORY; default https://127.0.0.1:7080)");
  cmd->add_option("--listen", f->listen,
                  "HOST:PORT where other peers fetch chunks, over TLS (default 127.0.0.1:7443)");
  cmd->add_option("--advertise", f->advertise,
                  "HOST:PORT announced to the directory for other peers to dial (default: "
                  "--listen)");
  cmd->add_option("--ui-listen", f->ui_listen,
                  "HOST:PORT of the web UI and its local API (default 127.0.0.1:7090; 'off': "
                  "none)");
  cmd->add_flag("--ui-allow-remote", f->ui_allow_remote,
                "let --ui-listen take an address other than loopback (the UI is plain HTTP: "
                "put TLS in front of it)");
  cmd->add_option("--max-uploads", f->max_uploads,
                  "chunk streams served at once; more callers are sent to other peers "
                  "(default 8)");
  cmd->add_option("--limit-rate", f->limit_rate,
                  "all uploads together at most this fast, e.g. 10M (bytes/s; default: no limit)");
  cmd->add_option("--settle-ms", f->settle_ms,
                  "how long the share must be quiet after a change before it is scanned "
                  "(default 500)");
  cmd->add_option("--rescan-seconds", f->rescan_seconds,
                  "without inotify (or past its watch limit): seconds between full rescans "
                  "(default 60)");
  cmd->add_option("--hash-threads", f->hash_threads,
                  "threads that hash (default 0: every CPU the process may use)");
  cmd->add_flag("--password-stdin", f->password_stdin,
                "read the password from standard input (else FERRY_PASSWORD, else a prompt)");
  cmd->add_flag("-v,--verbose", f->verbose, "debug logging");
  cmd->callback([f, &flags, exit_code] {
    Status s = Run(*f, flags);
    *exit_code = s.ok() ? 0 : Fail(s);
  });
}

}  // namespace ferry
