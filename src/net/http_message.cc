#include "net/http_message.h"

#include <strings.h>

namespace ferry {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Find(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (SameName(key, name)) return value;
  }
  return {};
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

HttpRequest HttpRequest::For(std::string method, std::string target) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  std::string_view t = request.target;
  size_t question = t.find('?');
  request.path = DecodeUrl(t.substr(0, question), false);
  if (question != std::string_view::npos) request.query = ParseQuery(t.substr(question + 1));
  return request;
}

std::string_view HttpRequest::Header(std::string_view name) const { return Find(headers, name); }

std::string_view HttpResponse::Header(std::string_view name) const { return Find(headers, name); }

void HttpResponse::SetHeader(std::string_view name, std::string value) {
  std::erase_if(headers, [&](const auto& header) { return SameName(header.first, name); });
  headers.emplace_back(std::string(name), std::move(value));
}

void HttpResponse::SetBody(std::string text, std::string_view content_type) {
  body = std::move(text);
  SetHeader("Content-Type", std::string(content_type));
}

std::string DecodeUrl(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
        HexDigit(text[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

QueryParams ParseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string name = DecodeUrl(pair.substr(0, eq), true);
    if (name.empty()) continue;
    std::string value =
        eq == std::string_view::npos ? std::string() : DecodeUrl(pair.substr(eq + 1), true);
    params.emplace(std::move(name), std::move(value));
  }
  return params;
}

}  // namespace ferry
