#include "net/trust.h"

#include <netdb.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "core/host_port.h"
#include "core/unique_fd.h"
#include "net/tls_identity.h"
#include "transfer/publish.h"

namespace ferry {
namespace {

Result<UniqueFd> ConnectTcp(const std::string& host, const std::string& port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::Unavailable(fmt::format("cannot resolve '{}': {}", host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(res, freeaddrinfo);
  int last_err = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) continue;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_err = errno;
      continue;
    }
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) {
      last_err = ETIMEDOUT;
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last_err = err;
      continue;
    }
    // Back to blocking for the handshake, bounded by socket timeouts.
    ::fcntl(fd.get(), F_SETFL, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
  }
  return Status::Unavailable(
      fmt::format("cannot connect to {}:{}: {}", host, port, std::strerror(last_err)));
}

}  // namespace

std::string ConfigDir() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/ferry";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.config/ferry";
}

Result<std::string> FetchServerCertificate(const std::string& host, const std::string& port,
                                           int timeout_ms) {
  auto fd = ConnectTcp(host, port, timeout_ms);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!ctx) return Status::Internal("cannot create a TLS context");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // we only look at the certificate
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd->get());
  SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(kSelfSignedName));
  if (SSL_connect(ssl.get()) != 1) {
    return Status::Unavailable(
        fmt::format("TLS handshake with {}:{} failed: is it a ferry server?", host, port));
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl.get()), X509_free);
  SSL_shutdown(ssl.get());
  if (!cert) return Status::Unavailable("the server presented no certificate");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::optional<std::string>> KnownServers::Lookup(const std::string& server) const {
  std::ifstream in(path_);
  if (!in) return std::optional<std::string>();
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name, fp;
    if (fields >> name >> fp && name == server) return std::optional<std::string>(fp);
  }
  return std::optional<std::string>();
}

Status KnownServers::Remember(const std::string& server, const std::string& fingerprint) const {
  std::string dir = path_.substr(0, path_.rfind('/'));
  std::string parent = dir.substr(0, dir.rfind('/'));
  ::mkdir(parent.c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  std::string contents;
  if (auto existing = ReadSmallFile(path_); existing.ok()) contents = *existing;
  if (!contents.empty() && contents.back() != '\n') contents += '\n';
  contents += server + " " + fingerprint + "\n";
  return PublishFile(path_, contents, 0600);
}

Result<TrustedServer> EstablishTrust(const std::string& server, const TrustOptions& options) {
  if (!options.ca_cert_file.empty()) {
    auto pem = ReadSmallFile(options.ca_cert_file);
    if (!pem.ok()) return pem.status();
    return TrustedServer{*pem, "", ""};
  }
  HostPortRules rules;
  rules.what = "server address";
  auto address = ParseHostPort(server, rules);
  if (!address.ok()) return address.status();
  auto pem = FetchServerCertificate(address->host, std::to_string(address->port), 10'000);
  if (!pem.ok()) return pem.status();
  auto fingerprint = CertFingerprint(*pem);
  if (!fingerprint.ok()) return fingerprint.status();
  auto name = CertHostName(*pem);
  if (!name.ok()) return name.status();
  TrustedServer trusted{*pem, *name, *fingerprint};

  KnownServers known(options.known_servers_file);
  auto pinned = known.Lookup(server);
  if (!pinned.ok()) return pinned.status();
  if (pinned->has_value()) {
    if (**pinned == *fingerprint) return trusted;
    return Status::PermissionDenied(fmt::format(
        "\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
        "@  WARNING: THE SERVER'S CERTIFICATE HAS CHANGED!          @\n"
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
        "Someone could be intercepting your connection to {} (man-in-the-middle),\n"
        "or the server's certificate was replaced.\n"
        "Expected SHA-256 fingerprint: {}\n"
        "Presented SHA-256 fingerprint: {}\n"
        "Refusing to connect. If the change is legitimate, remove the line for {} from\n"
        "{} and connect again.",
        server, FormatFingerprint(**pinned), FormatFingerprint(*fingerprint), server,
        options.known_servers_file));
  }
  std::string question = fmt::format(
      "The authenticity of server {} can't be established.\n"
      "Its certificate's SHA-256 fingerprint is {}.\n"
      "Compare it with the one `ferry server` printed. Trust this server? [y/N] ",
      server, FormatFingerprint(*fingerprint));
  bool accept = options.trust_new_server || (options.confirm && options.confirm(question));
  if (!accept) {
    return Status::PermissionDenied(fmt::format(
        "server {} is not known (certificate SHA-256 {}); check the fingerprint and run again "
        "with --trust-new-server, or use --ca-cert",
        server, FormatFingerprint(*fingerprint)));
  }
  FERRY_RETURN_IF_ERROR(known.Remember(server, *fingerprint));
  return trusted;
}

}  // namespace ferry
