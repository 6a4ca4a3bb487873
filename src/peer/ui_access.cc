#include "peer/ui_access.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/host_port.h"
#include "core/secrets.h"
#include "core/unique_fd.h"

namespace ferry {
namespace {

constexpr size_t kSecretHexDigits = 64;

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The value of cookie `name` in a Cookie header, or "".
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t end = header.find(';');
    std::string_view pair = Trim(header.substr(0, end));
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && Trim(pair.substr(0, eq)) == name) {
      return Trim(pair.substr(eq + 1));
    }
  }
  return {};
}

std::string HmacHex(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

}  // namespace

Result<std::string> LoadOrCreateUiSecret(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() >= 0) {
    char buf[kSecretHexDigits + 2];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      return Status::Internal(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
    }
    std::string_view text(buf, static_cast<size_t>(n));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (text.size() != kSecretHexDigits || !IsLowerHex(text)) {
      return Status::FailedPrecondition(fmt::format(
          "'{}' does not hold a UI secret (64 hex digits); delete it to have a new one made",
          path));
    }
    return std::string(text);
  }
  if (errno != ENOENT) {
    return Status::Internal(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  }
  std::string secret = RandomHex(kSecretHexDigits / 2);
  // Written whole under a temporary name, then renamed: never half a secret.
  const std::string temp = path + ".tmp";
  UniqueFd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (out.get() < 0) {
    return Status::Internal(fmt::format("cannot write '{}': {}", temp, std::strerror(errno)));
  }
  const std::string line = secret + "\n";
  if (::write(out.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
      ::fsync(out.get()) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return Status::Internal(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
  }
  return secret;
}

UiAccess::UiAccess(std::string secret, std::string_view listen_host, int port)
    : secret_(std::move(secret)), csrf_token_(HmacHex(secret_, "ferry peer UI CSRF token")) {
  const std::string host = Lower(listen_host);
  const bool wildcard = host.empty() || host == "0.0.0.0" || host == "::" || host == "*";
  if (!wildcard) hosts_.push_back(HostPort{host, port}.ToString());
  for (std::string_view name : {"127.0.0.1", "localhost", "::1"}) {
    std::string entry = HostPort{std::string(name), port}.ToString();
    if (std::find(hosts_.begin(), hosts_.end(), entry) == hosts_.end()) hosts_.push_back(entry);
  }
}

Status UiAccess::CheckHost(const HttpRequest& request) const {
  const std::string host = Lower(Trim(request.Header("Host")));
  if (std::find(hosts_.begin(), hosts_.end(), host) == hosts_.end()) {
    return Status::PermissionDenied(
        fmt::format("this is the ferry peer UI at {}; a request for host '{}' is refused",
                    hosts_.front(), host.substr(0, 100)));
  }
  std::string_view origin = Trim(request.Header("Origin"));
  if (!origin.empty()) {
    const std::string o = Lower(origin);
    const bool own = o.starts_with("http://") &&
                     std::find(hosts_.begin(), hosts_.end(), o.substr(7)) != hosts_.end();
    if (!own) {
      return Status::PermissionDenied(fmt::format(
          "a request from the page of another site ('{}') is refused", o.substr(0, 100)));
    }
  }
  return Status::Ok();
}

bool UiAccess::IsSecret(std::string_view candidate) const { return SameText(candidate, secret_); }

Status UiAccess::Authenticate(const HttpRequest& request, bool* by_cookie) const {
  *by_cookie = false;
  std::string_view authorization = Trim(request.Header("Authorization"));
  if (!authorization.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.size() > kBearer.size() &&
        Lower(authorization.substr(0, kBearer.size())) == "bearer " &&
        IsSecret(Trim(authorization.substr(kBearer.size())))) {
      return Status::Ok();
    }
    return Status::Unauthenticated("the Authorization header does not carry the UI secret");
  }
  if (IsSecret(CookieValue(request.Header("Cookie"), kUiCookie))) {
    *by_cookie = true;
    return Status::Ok();
  }
  return Status::Unauthenticated(
      "open the link `ferry peer` printed (it carries the UI secret, also kept in DATA/ui-secret), "
      "or send Authorization: Bearer SECRET");
}

Status UiAccess::CheckCsrf(const HttpRequest& request) const {
  if (SameText(Trim(request.Header(kCsrfHeader)), csrf_token_)) return Status::Ok();
  return Status::PermissionDenied(
      fmt::format("a change made with the UI cookie carries the {} header (csrf_token of GET "
                  "/api/v1/session)",
                  kCsrfHeader));
}

std::string UiAccess::LoginCookie() const {
  return fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/", kUiCookie, secret_);
}

std::string UiAccess::LoginLink() const {
  return fmt::format("http://{}/login?secret={}", hosts_.front(), secret_);
}

}  // namespace ferry
