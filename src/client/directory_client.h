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
#include "directory_api/wire_types.h"
#include "net/trust.h"

namespace httplib {
class ClientImpl;
}

// What travels to and from the directory is directory_api's (wire_types.h);
// this namespace holds the client itself.
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

struct SearchQuery {
  std::string text;    // a substring of file names, ignoring case; or
  std::string sha256;  // one content (exactly one of the two is set)
  int limit = 50;      // 1..1000
  int offset = 0;
};

// One directory, one optional session. Not thread-safe: give each thread its
// own client. Requests are checked with directory_api's rules before they
// are sent (INVALID_ARGUMENT), and replies are decoded by directory_api's
// JSON: a reply that breaks a rule, such as a peer id that is not 32
// lower-case hex digits, is INTERNAL naming the field. Errors map HTTP
// statuses to codes and keep the directory's {"error"} message: 400
// INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
// NOT_FOUND, 405 UNIMPLEMENTED, 409 ALREADY_EXISTS, 413 and 429
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
  Result<dirapi::LoginInfo> Login(const std::string& username, const std::string& password);
  // Ends the session (the directory drops every peer announced with it).
  Status Logout();
  Result<dirapi::TokenInfo> Verify();

  Result<dirapi::PeerLease> Announce(const dirapi::Announcement& announcement);
  Result<dirapi::PeerLease> Heartbeat(const std::string& peer_id);
  Status RemovePeer(const std::string& peer_id);

  // One page of online peers, ordered by id.
  Result<std::vector<dirapi::PeerInfo>> Peers(int limit = 100, int offset = 0);
  // Every online peer, page by page (at most `max_peers`).
  Result<std::vector<dirapi::PeerInfo>> AllPeers(size_t max_peers = 1'000'000);
  // One page of a peer's files, ordered by path; NOT_FOUND when it is offline.
  Result<std::vector<dirapi::SharedFile>> PeerFiles(const std::string& peer_id, int limit = 1000,
                                                    int offset = 0);
  // All of a peer's files, page by page.
  Result<std::vector<dirapi::SharedFile>> AllPeerFiles(const std::string& peer_id);
  Result<std::vector<dirapi::SearchHit>> Search(const SearchQuery& query);
  // The online peers that share content `sha256` (64 hex digits), at most
  // `limit` (1..1000), each with what it announced of it.
  Result<std::vector<dirapi::ContentSource>> Sources(const std::string& sha256, int limit = 100);

  // A ticket that names this session's user to the serving peer `peer_id`
  // alone, for a few minutes: what a fetcher shows that peer instead of its
  // token. NOT_FOUND when the peer is not online.
  Result<dirapi::Ticket> IssueTicket(const std::string& peer_id);
  // Who holds `ticket`, shown to `peer_id`, one of this session's user's
  // peers: the fetcher's user name and until when the answer holds (cache it
  // no longer). PERMISSION_DENIED for any ticket that is not valid for that
  // peer; INVALID_ARGUMENT, without asking, for one that is not 64
  // lower-case hex digits.
  Result<dirapi::TicketHolder> CheckTicket(const std::string& peer_id, const std::string& ticket);

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
