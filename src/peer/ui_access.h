// Who may use the peer's web UI and its local API (docs/peer-ui.md,
// "Getting in"): the holder of the UI secret (a cookie set by the login
// link, or an Authorization: Bearer header), with a CSRF token on every
// state-changing request the cookie authenticates, and only through the
// UI's own host name (no DNS rebinding) and origin.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "net/http_message.h"

namespace ferry {

inline constexpr std::string_view kUiCookie = "ferry_ui";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// The UI secret kept in `path` (64 hex digits, mode 0600), made on first use.
// Errors: the file cannot be read or written, or holds something else.
Result<std::string> LoadOrCreateUiSecret(const std::string& path);

class UiAccess {
 public:
  // `listen_host` and `port`: where the UI listens ("127.0.0.1", 7090).
  UiAccess(std::string secret, std::string_view listen_host, int port);

  // PERMISSION_DENIED unless the request's Host is one of the UI's own
  // names and its Origin (when sent) is http:// and such a name.
  Status CheckHost(const HttpRequest& request) const;
  // OK when the request carries the secret: in the cookie (`*by_cookie`
  // true) or as a Bearer token. UNAUTHENTICATED otherwise.
  Status Authenticate(const HttpRequest& request, bool* by_cookie) const;
  // PERMISSION_DENIED unless the request carries the CSRF token.
  Status CheckCsrf(const HttpRequest& request) const;
  // Whether `candidate` is the secret (in constant time).
  bool IsSecret(std::string_view candidate) const;

  const std::string& csrf_token() const { return csrf_token_; }
  // The Set-Cookie value the login link answers with.
  std::string LoginCookie() const;
  // "http://127.0.0.1:7090/login?secret=HEX"
  std::string LoginLink() const;
  const std::vector<std::string>& hosts() const { return hosts_; }

 private:
  std::string secret_;
  std::string csrf_token_;
  std::vector<std::string> hosts_;  // lower case "host:port", the first one canonical
};

}  // namespace ferry
