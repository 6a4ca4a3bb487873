// ferry's own HTTP request and response: what a route handler reads and
// writes, whatever parsed the bytes (the event-loop server, or a test or fuzz
// target that builds them directly).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {

class HttpStream;  // net/http_stream.h

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
// Query parameters, decoded, in the order sent; a name may repeat.
using QueryParams = std::multimap<std::string, std::string>;

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // path and query as sent
  std::string path;    // the target's path, percent-decoded
  QueryParams query;
  HttpHeaders headers;  // as sent
  std::string body;
  std::string remote_addr;  // an IPv4 client of a dual-stack socket reads as IPv4
  int remote_port = 0;

  // A request for `method` and `target`, with path and query filled in.
  static HttpRequest For(std::string method, std::string target);
  // The value of the first header called `name` (any case), or "".
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  // Set by a handler that streams: the status and headers are sent (no
  // Content-Length; the connection closes when the stream ends), then
  // whatever is written to it, as it is written.
  std::shared_ptr<HttpStream> stream;

  // Replaces any header called `name` (any case).
  void SetHeader(std::string_view name, std::string value);
  void SetBody(std::string body, std::string_view content_type);
  std::string_view Header(std::string_view name) const;
};

// Percent-decodes `text`; `plus_is_space` for query parameters. A '%' not
// followed by two hex digits stays as it is.
std::string DecodeUrl(std::string_view text, bool plus_is_space);
// Splits "a=1&b=x%20y" into decoded parameters; a parameter without '='
// has an empty value, and empty names are dropped.
QueryParams ParseQuery(std::string_view query);

}  // namespace ferry
