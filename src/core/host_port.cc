#include "core/host_port.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

namespace ferry {
namespace {

// An IPv6 address, with a zone ("fe80::1%eth0") or without.
bool IsIpv6(std::string_view host) {
  std::string text(host.substr(0, host.find('%')));
  in6_addr address{};
  return inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

bool HasForbiddenHostChar(std::string_view host) {
  for (unsigned char c : host) {
    if (c <= 0x20 || c == 0x7f) return true;
    if (std::string_view("/@?#[]").find(static_cast<char>(c)) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

// The port's digits as a number in [min_port, 65535]; nullopt otherwise.
std::optional<int> ParsePort(std::string_view digits, int min_port) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
  int port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (port < min_port || port > 65535) return std::nullopt;
  return port;
}

}  // namespace

std::string HostPort::BracketedHost() const {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

std::string HostPort::ToString() const { return fmt::format("{}:{}", BracketedHost(), port); }

HostPortRules ListenRules(std::string_view what) {
  HostPortRules rules;
  rules.what = what;
  rules.min_port = 0;
  rules.allow_empty_host = true;
  return rules;
}

Result<HostPort> ParseHostPort(std::string_view text, const HostPortRules& rules) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("{} '{}' {}", rules.what, text, why));
  };
  const char* const kShape = rules.default_port ? "is not HOST[:PORT] or [IPv6][:PORT]"
                                                : "is not HOST:PORT or [IPv6]:PORT";
  std::string_view host;
  std::optional<std::string_view> port;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad(kShape);
    host = text.substr(1, close - 1);
    bracketed = true;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad(kShape);
      port = rest.substr(1);
    }
  } else {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port->find(':') != std::string_view::npos) {
        return bad("is not HOST:PORT; an IPv6 address goes in brackets: [IPv6]:PORT");
      }
    }
  }
  HostPort out;
  if (bracketed) {
    if (!IsIpv6(host)) return bad(fmt::format("has '{}' in brackets, not an IPv6 address", host));
  } else if (host.empty()) {
    if (!rules.allow_empty_host) return bad("has no host");
  } else if (HasForbiddenHostChar(host)) {
    return bad("has a host with a space, control character or one of /@?#[]");
  }
  out.host = std::string(host);
  if (!port) {
    if (!rules.default_port) return bad(kShape);
    out.port = *rules.default_port;
    return out;
  }
  auto number = ParsePort(*port, rules.min_port);
  if (!number) {
    return bad(
        fmt::format("has port '{}'; a port is a number from {} to 65535", *port, rules.min_port));
  }
  out.port = *number;
  return out;
}

}  // namespace ferry
