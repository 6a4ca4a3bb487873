#include "client/directory_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client/directory_reply.h"
#include "core/display_text.h"
#include "core/host_port.h"
#include "core/rel_path.h"
#include "core/sha256.h"
#include "directory_api/wire_json.h"
#include "directory_api/wire_rules.h"

namespace ferry::dirclient {
namespace {

using json = nlohmann::json;

// Bigger than any page the API can produce (1000 hits with 50 peers each, or
// 1000 files with 4 KiB paths), so only a misbehaving directory reaches it.
constexpr size_t kMaxReplyBytes = 64u << 20;
// The documented page sizes; a shorter page is the last one.
constexpr int kPeersPage = 100;
constexpr int kFilesPage = 1000;
constexpr size_t kMaxFilesPerPeer = 100'000;

// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
std::string QueryEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

// Requests carry what callers gave; invalid UTF-8 is replaced, not thrown.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Status CheckPage(int limit, int offset) {
  if (limit < 1 || offset < 0) {
    return Status::InvalidArgument(
        fmt::format("limit {} and offset {}: the limit must be at least 1 and the offset not "
                    "negative",
                    limit, offset));
  }
  return Status::Ok();
}

// Ids go into URL paths; the wire rule keeps them to plain hex.
Status CheckPeerId(const std::string& peer_id) {
  if (!dirapi::IsPeerId(peer_id)) {
    return Status::InvalidArgument(fmt::format("'{}' is not a peer id ({} lower-case hex digits)",
                                               ForDisplay(peer_id), dirapi::kPeerIdHexDigits));
  }
  return Status::Ok();
}

// How an HTTP error status reads as a Status; `message` is the directory's.
Code CodeForHttp(int status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kUnimplemented;
    case 409:
      return Code::kAlreadyExists;
    case 413:
    case 429:
      return Code::kResourceExhausted;
    default:
      return status >= 500 ? Code::kUnavailable : Code::kUnknown;
  }
}

// OpenSSL's certificate check for https. Preverification has checked the
// chain against our store (only the pinned certificate or the --ca-cert) and
// the host name set in the verify parameters; this adds the pin on the leaf
// and records why verification failed, for the message.
int VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* state =
      ssl == nullptr
          ? nullptr
          : static_cast<DirectoryClient::TlsState*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0));
  if (state == nullptr) return 0;
  if (preverify_ok != 1) {
    int err = X509_STORE_CTX_get_error(store);
    state->failure =
        fmt::format("its certificate is not trusted ({})", X509_verify_cert_error_string(err));
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) == 0 && !state->pinned_fingerprint.empty()) {
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (leaf == nullptr || X509_digest(leaf, EVP_sha256(), md, &len) != 1 ||
        ToHex(md, len) != state->pinned_fingerprint) {
      state->failure = "it presented a certificate other than the one pinned";
      X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
      return 0;
    }
  }
  return 1;
}

using StorePtr = std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>;

// An X509 store holding exactly the certificates in `pem`.
Result<StorePtr> StoreFromPem(const std::string& pem) {
  StorePtr store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!store || !bio) return Status::Internal("out of memory for the TLS trust store");
  int added = 0;
  for (;;) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
    if (!cert) break;
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
      return Status::Internal("cannot add a certificate to the TLS trust store");
    }
    ++added;
  }
  if (added == 0) return Status::InvalidArgument("the CA file holds no PEM certificate");
  return store;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::string DirectoryEndpoint::HostPort() const { return ::ferry::HostPort{host, port}.ToString(); }

std::string DirectoryEndpoint::Url() const {
  return fmt::format("{}://{}{}", https ? "https" : "http", HostPort(), prefix);
}

Result<DirectoryEndpoint> ParseDirectoryUrl(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(
        fmt::format("directory URL '{}' {}; expected https://HOST:PORT or http://HOST:PORT",
                    ForDisplay(url), why));
  };
  DirectoryEndpoint ep;
  std::string rest = url;
  if (size_t sep = rest.find("://"); sep != std::string::npos) {
    std::string scheme = Lower(rest.substr(0, sep));
    if (scheme != "https" && scheme != "http") return bad("has an unknown scheme");
    ep.https = scheme == "https";
    rest = rest.substr(sep + 3);
  }
  if (rest.empty() || HasControl(rest) || rest.find_first_of(" ?#@\\") != std::string::npos) {
    return bad("is not a plain URL");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    ep.prefix = rest.substr(slash);
    while (!ep.prefix.empty() && ep.prefix.back() == '/') ep.prefix.pop_back();
    for (char c : ep.prefix) {
      bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '/' || c == '-' || c == '.' || c == '_' || c == '~';
      if (!plain) return bad("has unusual characters in its path");
    }
  }
  HostPortRules rules;
  rules.what = "host and port";
  rules.default_port = kDefaultDirectoryPort;
  auto address = ParseHostPort(authority, rules);
  if (!address.ok()) return bad(fmt::format("has a bad {}", address.status().message()));
  ep.host = address->host;
  ep.port = address->port;
  return ep;
}

DirectoryClient::DirectoryClient(PassKey) {}
DirectoryClient::~DirectoryClient() = default;

Result<std::unique_ptr<DirectoryClient>> DirectoryClient::Open(
    const DirectoryClientOptions& options) {
  auto ep = ParseDirectoryUrl(options.url);
  if (!ep.ok()) return ep.status();
  TrustedServer trusted;
  if (ep->https) {
    auto established = EstablishTrust(ep->HostPort(), options.trust);
    if (!established.ok()) {
      const Status& s = established.status();
      // Trust refused is the user's decision to make; anything else means
      // the directory could not be reached at all.
      if (s.code() == Code::kUnavailable) {
        return Status::Unavailable(
            fmt::format("cannot reach the directory at {}: {}", ep->Url(), s.message()));
      }
      return s;
    }
    trusted = std::move(established).value();
  }
  return OpenTrusted(options, trusted);
}

Result<std::unique_ptr<DirectoryClient>> DirectoryClient::OpenTrusted(
    const DirectoryClientOptions& options, const TrustedServer& trusted) {
  auto ep = ParseDirectoryUrl(options.url);
  if (!ep.ok()) return ep.status();
  auto client = std::make_unique<DirectoryClient>(PassKey());
  client->endpoint_ = *ep;
  client->timeout_ = options.timeout;
  if (ep->https) {
    auto store = StoreFromPem(trusted.root_pem);
    if (!store.ok()) return store.status();
    auto ssl = std::make_unique<httplib::SSLClient>(ep->host, ep->port);
    SSL_CTX* ctx = ssl->ssl_context();
    if (ctx == nullptr) return Status::Internal("cannot create a TLS context");
    client->tls_ = std::make_unique<TlsState>();
    client->tls_->pinned_fingerprint = trusted.fingerprint;
    // httplib's own check would also trust the system's CAs and match only
    // the host dialled; OpenSSL checks our store and name instead, and a
    // failure ends the handshake.
    ssl->enable_server_certificate_verification(false);
    SSL_CTX_set_cert_store(ctx, store->release());  // the context owns it now
    SSL_CTX_set_ex_data(ctx, 0, client->tls_.get());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyCallback);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    // A pinned self-signed certificate names itself kSelfSignedName (like
    // gRPC's target name override), so it verifies whatever address was
    // dialled; a CA-issued one must name the host dialled.
    const std::string& name = trusted.target_name.empty() ? ep->host : trusted.target_name;
    int named = IsIpAddress(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                  : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (named != 1) return Status::Internal("cannot set the TLS host name to verify");
    if (!trusted.fingerprint.empty()) {
      // The pin itself is the trust anchor, even if it is not self-signed.
      X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    }
    client->http_ = std::move(ssl);
  } else {
    client->http_ = std::make_unique<httplib::ClientImpl>(ep->host, ep->port);
  }
  httplib::ClientImpl& http = *client->http_;
  http.set_connection_timeout(options.timeout);
  http.set_read_timeout(options.timeout);
  http.set_write_timeout(options.timeout);
  http.set_keep_alive(true);  // `peers --files` makes a request per peer
  // Headers and body go out in separate writes: without this, Nagle's
  // algorithm and the server's delayed ACK add 40 ms to every request.
  http.set_tcp_nodelay(true);
  http.set_follow_location(false);
  http.set_url_encode(false);  // paths and queries are escaped here
  return client;
}

Result<std::string> DirectoryClient::Call(const std::string& method, const std::string& path,
                                          const std::string& body, bool auth) {
  if (auth && token_.empty()) {
    return Status::Unauthenticated("not logged in to the directory");
  }
  httplib::Request req;
  req.method = method;
  req.path = endpoint_.prefix + path;
  req.headers.emplace("Accept", "application/json");
  if (auth) req.headers.emplace("Authorization", "Bearer " + token_);
  if (!body.empty()) {
    req.headers.emplace("Content-Type", "application/json");
    req.body = body;
  }
  // A reply is read with a cap, and within an overall deadline: the socket
  // timeouts alone would let a directory dribble bytes forever.
  std::string reply;
  bool too_big = false, too_slow = false;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + 4 * timeout_;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (reply.size() + n > kMaxReplyBytes) {
      too_big = true;
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      too_slow = true;
      return false;
    }
    reply.append(data, n);
    return true;
  };
  if (tls_) tls_->failure.clear();
  httplib::Result res = http_->send(req);
  if (!res) {
    std::string why;
    double seconds = std::chrono::duration<double>(timeout_).count();
    switch (res.error()) {
      case httplib::Error::Connection:
        why = "cannot connect (is `ferry directory` running there?)";
        break;
      case httplib::Error::ConnectionTimeout:
        why = fmt::format("no connection within {:g} s", seconds);
        break;
      case httplib::Error::Read:
        why = std::chrono::steady_clock::now() - start >= timeout_
                  ? fmt::format("no answer within {:g} s", seconds)
                  : "the connection closed without an answer";
        break;
      case httplib::Error::Write:
        why = "the connection failed while sending the request";
        break;
      case httplib::Error::SSLConnection:
        why = tls_ && !tls_->failure.empty()
                  ? "TLS verification failed: " + tls_->failure
                  : "the TLS handshake failed (for a directory run with --plain-http, use "
                    "http://)";
        break;
      case httplib::Error::Canceled:
        why = too_big    ? fmt::format("the answer is larger than {} MiB", kMaxReplyBytes >> 20)
              : too_slow ? fmt::format("the answer took longer than {:g} s", 4 * seconds)
                         : "the request was cancelled";
        break;
      default:
        why = httplib::to_string(res.error());
    }
    return Status::Unavailable(
        fmt::format("cannot reach the directory at {}: {}", endpoint_.Url(), why));
  }
  int status = res->status;
  if (status >= 200 && status < 300) return reply;

  // The directory's {"error"} is untrusted text: escaped before it can reach
  // a terminal, and cut short.
  std::string message = ParseErrorMessage(reply);
  if (message.size() > 1024) message = message.substr(0, 1024) + "...";
  message = ForDisplay(message);
  if (message.empty()) {
    message = fmt::format("the directory at {} answered HTTP {}", endpoint_.Url(), status);
  }
  if (status == 429) {
    std::string retry = res->get_header_value("Retry-After");
    if (!retry.empty() && retry.size() <= 10 &&
        std::all_of(retry.begin(), retry.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      message += fmt::format(" (retry after {} s)", retry);
    }
  }
  return Status(CodeForHttp(status), message);
}

Result<std::string> DirectoryClient::Register(const std::string& username,
                                              const std::string& password) {
  json req = dirapi::ToJson(dirapi::Credentials{username, password});
  auto body = Call("POST", "/api/v1/register", Dump(req), false);
  if (!body.ok()) return body.status();
  return ParseRegistered(*body);
}

Result<dirapi::LoginInfo> DirectoryClient::Login(const std::string& username,
                                                 const std::string& password) {
  json req = dirapi::ToJson(dirapi::Credentials{username, password});
  auto body = Call("POST", "/api/v1/login", Dump(req), false);
  if (!body.ok()) return body.status();
  auto info = ParseLogin(*body);
  if (info.ok()) token_ = info->token;
  return info;
}

Status DirectoryClient::Logout() {
  auto body = Call("POST", "/api/v1/logout", "{}", true);
  if (!body.ok()) return body.status();
  token_.clear();
  return Status::Ok();
}

Result<dirapi::TokenInfo> DirectoryClient::Verify() {
  auto body = Call("GET", "/api/v1/verify", "", true);
  if (!body.ok()) return body.status();
  return ParseTokenInfo(*body);
}

Result<dirapi::PeerLease> DirectoryClient::Announce(const dirapi::Announcement& a) {
  if (a.peer_id) FERRY_RETURN_IF_ERROR(CheckPeerId(*a.peer_id));
  json req = dirapi::ToJson(a);
  // The directory's own rules, checked before anything is sent: a bad
  // announce gets the message the directory would give, without the trip.
  if (auto checked = dirapi::DecodeAnnouncement(req, CheckPeerAddress); !checked.ok()) {
    return checked.status();
  }
  auto body = Call("POST", "/api/v1/announce", Dump(req), true);
  if (!body.ok()) return body.status();
  return ParseLease(*body);
}

Result<dirapi::PeerLease> DirectoryClient::Heartbeat(const std::string& peer_id) {
  FERRY_RETURN_IF_ERROR(CheckPeerId(peer_id));
  auto body = Call("POST", "/api/v1/heartbeat", Dump(dirapi::HeartbeatJson(peer_id)), true);
  if (!body.ok()) return body.status();
  return ParseLease(*body);
}

Status DirectoryClient::RemovePeer(const std::string& peer_id) {
  FERRY_RETURN_IF_ERROR(CheckPeerId(peer_id));
  auto body = Call("DELETE", "/api/v1/peers/" + peer_id, "", true);
  return body.status();
}

Result<std::vector<dirapi::PeerInfo>> DirectoryClient::Peers(int limit, int offset) {
  FERRY_RETURN_IF_ERROR(CheckPage(limit, offset));
  auto body = Call("GET", fmt::format("/api/v1/peers?limit={}&offset={}", limit, offset), "", true);
  if (!body.ok()) return body.status();
  return ParsePeers(*body);
}

Result<std::vector<dirapi::PeerInfo>> DirectoryClient::AllPeers(size_t max_peers) {
  std::vector<dirapi::PeerInfo> all;
  while (all.size() < max_peers) {
    auto page = Peers(kPeersPage, static_cast<int>(all.size()));
    if (!page.ok()) return page.status();
    size_t n = page->size();
    for (auto& p : *page) all.push_back(std::move(p));
    if (n < static_cast<size_t>(kPeersPage)) break;
    if (all.size() > static_cast<size_t>(std::numeric_limits<int>::max() - kPeersPage)) break;
  }
  if (all.size() > max_peers) all.resize(max_peers);
  return all;
}

Result<std::vector<dirapi::SharedFile>> DirectoryClient::PeerFiles(const std::string& peer_id,
                                                                   int limit, int offset) {
  FERRY_RETURN_IF_ERROR(CheckPeerId(peer_id));
  FERRY_RETURN_IF_ERROR(CheckPage(limit, offset));
  auto body =
      Call("GET", fmt::format("/api/v1/peers/{}/files?limit={}&offset={}", peer_id, limit, offset),
           "", true);
  if (!body.ok()) return body.status();
  return ParseFiles(*body);
}

Result<std::vector<dirapi::SharedFile>> DirectoryClient::AllPeerFiles(const std::string& peer_id) {
  std::vector<dirapi::SharedFile> all;
  // The directory keeps at most kMaxFilesPerPeer per peer; a directory that
  // pages on forever is cut off there.
  while (all.size() < kMaxFilesPerPeer) {
    auto page = PeerFiles(peer_id, kFilesPage, static_cast<int>(all.size()));
    if (!page.ok()) return page.status();
    size_t n = page->size();
    for (auto& f : *page) all.push_back(std::move(f));
    if (n < static_cast<size_t>(kFilesPage)) break;
  }
  return all;
}

Result<std::vector<dirapi::SearchHit>> DirectoryClient::Search(const SearchQuery& q) {
  if (q.text.empty() == q.sha256.empty()) {
    return Status::InvalidArgument("search for either a text or a SHA-256, not both or neither");
  }
  std::string query;
  if (q.text.empty()) {
    if (!IsSha256Hex(q.sha256)) {
      return Status::InvalidArgument(
          fmt::format("'{}' is not a SHA-256 (64 hex digits)", ForDisplay(q.sha256)));
    }
    query = "sha256=" + Lower(q.sha256);
  } else {
    // The directory's own rule, so that text it would refuse is not sent.
    FERRY_RETURN_IF_ERROR(dirapi::ValidateSearchText(q.text));
    query = "q=" + QueryEscape(q.text);
  }
  FERRY_RETURN_IF_ERROR(CheckPage(q.limit, q.offset));
  auto body =
      Call("GET", fmt::format("/api/v1/search?{}&limit={}&offset={}", query, q.limit, q.offset), "",
           true);
  if (!body.ok()) return body.status();
  return ParseHits(*body);
}

Result<std::vector<dirapi::ContentSource>> DirectoryClient::Sources(const std::string& sha256,
                                                                    int limit) {
  if (!IsSha256Hex(sha256)) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a SHA-256 (64 hex digits)", ForDisplay(sha256)));
  }
  FERRY_RETURN_IF_ERROR(CheckPage(limit, 0));
  auto body = Call("GET", fmt::format("/api/v1/sources?sha256={}&limit={}", Lower(sha256), limit),
                   "", true);
  if (!body.ok()) return body.status();
  return ParseSources(*body);
}

Result<dirapi::Ticket> DirectoryClient::IssueTicket(const std::string& peer_id) {
  FERRY_RETURN_IF_ERROR(CheckPeerId(peer_id));
  auto body =
      Call("POST", "/api/v1/tickets", Dump(dirapi::ToJson(dirapi::TicketRequest{peer_id})), true);
  if (!body.ok()) return body.status();
  auto ticket = ParseTicket(*body);
  if (!ticket.ok()) return ticket.status();
  // A ticket for another peer would be refused there; it is the directory's fault.
  if (ticket->peer_id != peer_id) {
    return Status::Internal(fmt::format(
        "the directory's reply is malformed: a ticket for peer {} when {} was asked for",
        ticket->peer_id, peer_id));
  }
  return ticket;
}

Result<dirapi::TicketHolder> DirectoryClient::CheckTicket(const std::string& peer_id,
                                                          const std::string& ticket) {
  FERRY_RETURN_IF_ERROR(CheckPeerId(peer_id));
  // Never echoed: a ticket is a secret while it lasts.
  FERRY_RETURN_IF_ERROR(dirapi::ValidateTicket(ticket));
  auto body = Call("POST", "/api/v1/tickets/check",
                   Dump(dirapi::ToJson(dirapi::TicketCheck{peer_id, ticket})), true);
  if (!body.ok()) return body.status();
  return ParseTicketHolder(*body);
}

}  // namespace ferry::dirclient
