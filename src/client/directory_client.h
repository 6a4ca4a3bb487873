// A client of the P2P directory's REST API (docs/directory-api.md): accounts,
// sessions, peers and search, over HTTPS with the file client's trust rules
// (a --ca-cert, or the certificate pinned on first use) or plain HTTP.
//
// Every reply is checked against the API's shapes before it becomes one of the
// structs below: a malformed, oversized or unexpected reply is an error Status,
// never a crash, and strings a person may see are left for the caller to
// escape (ForDisplay) before printing.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "net/trust.h"

namespace httplib {
class ClientImpl;
}

// A namespace of its own: the directory server has its own PeerInfo,
// SearchHit, ... for the same ideas, and both are linked into one binary.
namespace ferry::dirclient {

inline constexpr int kDefaultDirectoryPort = 7080;
inline constexpr const char* kDefaultDirectoryUrl = "https://127.0.0.1:7080";

// Where the directory is: parsed from "https://host:port", "http://host:port",
// "host:port" or "host" (https and port 7080 by default), optionally with a path
// prefix for a directory mounted below a proxy's root ("https://h/dir").
struct DirectoryEndpoint {
  bool https = true;
  std::string host;  // without brackets, even for IPv6
  int port = kDefaultDirectoryPort;
  std::string prefix;  // "" or "/dir": put before every route
  // "host:port" ("[v6]:port"): the key under which a pinned certificate is kept.
  std::string HostPort() const;
  // The canonical URL, for messages.
  std::string Url() const;
};

// INVALID_ARGUMENT naming what is wrong with `url`.
Result<DirectoryEndpoint> ParseDirectoryUrl(const std::string& url);

struct DirectoryClientOptions {
  std::string url = kDefaultDirectoryUrl;
  TrustOptions trust;  // used for https only
  // Bounds connecting, and each read and write of a request.
  std::chrono::milliseconds timeout{std::chrono::seconds(15)};
};

// A file a peer shares.
struct SharedFile {
  std::string path;  // relative, '/'-separated
  int64_t size = 0;
  std::string sha256;  // 64 lower-case hex digits
  int64_t mtime = 0;   // Unix seconds
};

struct LoginInfo {
  std::string token;
  std::string username;
  int64_t expires_at = 0;
};

struct TokenInfo {
  std::string username;
  int64_t expires_at = 0;
};

// What a peer tells the directory. With an empty peer_id it announces a new
// peer (address and cert_sha256 required, files is the whole list); with a
// peer_id it updates that peer: any of address, cert_sha256 and files (a whole
// new list) may be given, and added/removed carry what changed.
struct Announcement {
  std::string peer_id;
  std::optional<std::string> address;      // "host:port"
  std::optional<std::string> cert_sha256;  // of the peer's TLS certificate (DER)
  std::optional<std::vector<SharedFile>> files;
  std::vector<SharedFile> added;
  std::vector<std::string> removed;  // paths
};

struct PeerLease {
  std::string peer_id;
  int heartbeat_seconds = 0;  // announce or heartbeat again within this
};

struct PeerInfo {
  std::string peer_id;
  std::string username;
  std::string address;
  std::string cert_sha256;
  int64_t files = 0;
  int64_t last_seen = 0;  // Unix seconds
};

struct SearchQuery {
  std::string text;    // a substring of file names, ignoring case; or
  std::string sha256;  // one content (exactly one of the two is set)
  int limit = 50;      // 1..1000
  int offset = 0;
};

struct PeerAddress {
  std::string peer_id;
  std::string address;
  std::string cert_sha256;
};

struct SearchHit {
  std::string name;  // the last path component
  int64_t size = 0;
  std::string sha256;
  std::vector<PeerAddress> peers;  // online peers that share it (up to 50)
};

// One directory, one optional session. Not thread-safe: give each thread its
// own client. Errors map HTTP statuses to codes and keep the directory's
// {"error"} message: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 405 UNIMPLEMENTED, 409 ALREADY_EXISTS, 413 and 429
// RESOURCE_EXHAUSTED, 5xx UNAVAILABLE; a directory that cannot be reached (or
// does not answer within the timeout, or fails TLS verification) is
// UNAVAILABLE "cannot reach the directory at URL: why".
class DirectoryClient {
 public:
  // Parses the URL and, for https, establishes trust (which may fetch the
  // certificate and ask options.trust.confirm). Sends no request.
  static Result<std::unique_ptr<DirectoryClient>> Open(const DirectoryClientOptions& options);
  // The same with trust already settled (`trusted` is ignored for http):
  // for tests and for daemons that keep their own pins.
  static Result<std::unique_ptr<DirectoryClient>> OpenTrusted(const DirectoryClientOptions& options,
                                                              const TrustedServer& trusted);
  struct PassKey {
   private:
    friend class DirectoryClient;
    PassKey() = default;
  };
  explicit DirectoryClient(PassKey);
  ~DirectoryClient();
  DirectoryClient(const DirectoryClient&) = delete;
  DirectoryClient& operator=(const DirectoryClient&) = delete;

  const DirectoryEndpoint& endpoint() const { return endpoint_; }
  // The session's token ("" before Login and after Logout).
  const std::string& token() const { return token_; }
  // Uses a token obtained elsewhere (another process's login).
  void set_token(std::string token) { token_ = std::move(token); }

  // Creates an account; the name the directory registered.
  Result<std::string> Register(const std::string& username, const std::string& password);
  // Starts a session; later calls carry its token.
  Result<LoginInfo> Login(const std::string& username, const std::string& password);
  // Ends the session (the directory drops every peer announced with it).
  Status Logout();
  Result<TokenInfo> Verify();

  Result<PeerLease> Announce(const Announcement& announcement);
  Result<PeerLease> Heartbeat(const std::string& peer_id);
  Status RemovePeer(const std::string& peer_id);

  // One page of online peers, ordered by id.
  Result<std::vector<PeerInfo>> Peers(int limit = 100, int offset = 0);
  // Every online peer, page by page (at most `max_peers`).
  Result<std::vector<PeerInfo>> AllPeers(size_t max_peers = 1'000'000);
  // One page of a peer's files, ordered by path; NOT_FOUND when it is offline.
  Result<std::vector<SharedFile>> PeerFiles(const std::string& peer_id, int limit = 1000,
                                            int offset = 0);
  // All of a peer's files, page by page.
  Result<std::vector<SharedFile>> AllPeerFiles(const std::string& peer_id);
  Result<std::vector<SearchHit>> Search(const SearchQuery& query);

  // Internal: the verifier's record of why a TLS handshake failed.
  struct TlsState {
    std::string pinned_fingerprint;  // the leaf must hash to this, when set
    std::string failure;             // why the last handshake's verification failed
  };

 private:
  // Sends one request and returns the body of a 2xx reply, else the mapped error.
  Result<std::string> Call(const std::string& method, const std::string& path,
                           const std::string& body, bool auth);

  DirectoryEndpoint endpoint_;
  std::chrono::milliseconds timeout_{0};
  std::string token_;
  // Outlives http_: OpenSSL's verify callback points at it.
  std::unique_ptr<TlsState> tls_;
  std::unique_ptr<httplib::ClientImpl> http_;
};

}  // namespace ferry::dirclient
