// How the client decides to trust a server's certificate.
//
// With a CA file, gRPC verifies the chain and host name as usual. Without one,
// trust works like ssh: the server's certificate is fetched, its SHA-256
// fingerprint looked up in known_servers; an unknown server is trusted only if
// the user confirms (or --trust-new-server), and a server whose certificate
// changed is refused. The pinned certificate then becomes the only root gRPC
// accepts, so the channel cannot silently be given another one.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/status.h"

namespace ferry {

struct TrustOptions {
  std::string ca_cert_file;        // verify with this CA instead of pinning
  bool trust_new_server = false;   // accept an unknown server without asking
  std::string known_servers_file;  // where pins are kept
  // Asks the user a yes/no question; empty when there is no terminal.
  std::function<bool(const std::string& question)> confirm;
};

struct TrustedServer {
  std::string root_pem;     // what gRPC should accept as the root
  std::string target_name;  // name to verify in the certificate ("" = the host dialled)
  std::string fingerprint;  // SHA-256 hex of the certificate, when pinned
};

// Fetches the certificate a TLS server at `host:port` presents (PEM), without
// verifying it: the caller decides whether to trust it.
Result<std::string> FetchServerCertificate(const std::string& host, const std::string& port,
                                           int timeout_ms);

// The file of pinned servers: "host:port sha256hex" per line.
class KnownServers {
 public:
  explicit KnownServers(std::string path) : path_(std::move(path)) {}
  Result<std::optional<std::string>> Lookup(const std::string& server) const;
  Status Remember(const std::string& server, const std::string& fingerprint) const;

 private:
  std::string path_;
};

Result<TrustedServer> EstablishTrust(const std::string& server, const TrustOptions& options);

// $XDG_CONFIG_HOME/ferry (or ~/.config/ferry).
std::string ConfigDir();

}  // namespace ferry
