#include "directory/directory_requests.h"

#include <arpa/inet.h>

#include <charconv>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/credentials.h"
#include "core/host_port.h"
#include "core/rel_path.h"
#include "core/sha256.h"
#include "directory/strict_json.h"

namespace ferry {
namespace {

using nlohmann::json;

// Hex digits in lower case, the one form the directory keeps and compares.
std::string LowerHex(std::string hex) {
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return hex;
}

Result<json> ParseObject(std::string_view body, int max_json_depth) {
  auto doc = ParseStrictJson(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return Status::InvalidArgument("the body must be a JSON object");
  return doc;
}

const json* Field(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> StringField(const json& obj, const char* name) {
  const json* v = Field(obj, name);
  if (v == nullptr) return Status::InvalidArgument(fmt::format("'{}' is missing", name));
  if (!v->is_string()) return Status::InvalidArgument(fmt::format("'{}' must be a string", name));
  return v->get<std::string>();
}

Result<int64_t> NonNegativeField(const json& obj, const char* name, const std::string& where) {
  const json* v = Field(obj, name);
  if (v == nullptr) return Status::InvalidArgument(fmt::format("{}: '{}' is missing", where, name));
  if (v->is_number_unsigned()) {
    auto n = v->get<uint64_t>();
    if (n <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(n);
  } else if (v->is_number_integer() && v->get<int64_t>() >= 0) {
    return v->get<int64_t>();
  }
  return Status::InvalidArgument(
      fmt::format("{}: '{}' must be a whole number from 0 to 2^63-1", where, name));
}

Result<std::string> Sha256Field(const json& obj, const char* name, const std::string& where) {
  const json* v = Field(obj, name);
  if (v == nullptr) return Status::InvalidArgument(fmt::format("{}'{}' is missing", where, name));
  if (!v->is_string()) {
    return Status::InvalidArgument(fmt::format("{}'{}' must be a string", where, name));
  }
  std::string hex = LowerHex(v->get<std::string>());
  if (!IsSha256Hex(hex)) {
    return Status::InvalidArgument(fmt::format("{}'{}' must be 64 hex digits", where, name));
  }
  return hex;
}

const json* ArrayField(const json& obj, const char* name, Status* error) {
  const json* v = Field(obj, name);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    *error = Status::InvalidArgument(fmt::format("'{}' must be an array", name));
    return nullptr;
  }
  if (v->size() > kMaxFilesPerAnnounce) {
    *error = Status::InvalidArgument(fmt::format("'{}' has {} entries; at most {} are allowed",
                                                 name, v->size(), kMaxFilesPerAnnounce));
    return nullptr;
  }
  return v;
}

Result<std::vector<SharedFile>> ParseFiles(const json& list, const char* name) {
  std::vector<SharedFile> files;
  files.reserve(list.size());
  std::set<std::string_view> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& item = list[i];
    std::string where = fmt::format("{}[{}]", name, i);
    if (!item.is_object()) {
      return Status::InvalidArgument(fmt::format("{} must be an object", where));
    }
    SharedFile f;
    const json* path = Field(item, "path");
    if (path == nullptr || !path->is_string()) {
      return Status::InvalidArgument(fmt::format("{}: 'path' must be a string", where));
    }
    f.path = path->get<std::string>();
    if (Status s = ValidateSharedPath(f.path); !s.ok()) {
      return Status::InvalidArgument(fmt::format("{}: {}", where, s.message()));
    }
    auto size = NonNegativeField(item, "size", where);
    if (!size.ok()) return size.status();
    f.size = *size;
    auto mtime = NonNegativeField(item, "mtime", where);
    if (!mtime.ok()) return mtime.status();
    f.mtime = *mtime;
    auto sha = Sha256Field(item, "sha256", where + ": ");
    if (!sha.ok()) return sha.status();
    f.sha256 = std::move(*sha);
    files.push_back(std::move(f));
  }
  for (const auto& f : files) {
    if (!seen.insert(f.path).second) {
      return Status::InvalidArgument(fmt::format("{}: the path '{}' appears twice", name, f.path));
    }
  }
  return files;
}

bool IsHostLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!IsHostLabelChar(c)) return false;
    }
    start = dot + 1;
  }
  return true;
}

Result<int> IntParam(const std::multimap<std::string, std::string>& params, const char* name,
                     int fallback, int min, int max) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  if (params.count(name) > 1) {
    return Status::InvalidArgument(fmt::format("'{}' is given more than once", name));
  }
  const std::string& text = it->second;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Status::InvalidArgument(
        fmt::format("'{}' must be a whole number from {} to {}", name, min, max));
  }
  return value;
}

}  // namespace

Result<Credentials> ParseCredentials(std::string_view body, CredentialUse use, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  auto user = StringField(*doc, "username");
  if (!user.ok()) return user.status();
  auto password = StringField(*doc, "password");
  if (!password.ok()) return password.status();
  FERRY_RETURN_IF_ERROR(ValidateUserName(*user));
  if (use == CredentialUse::kRegister) {
    FERRY_RETURN_IF_ERROR(ValidatePassword(*password));
  } else if (password->size() > 1024) {
    return Status::InvalidArgument("the password is too long");
  }
  return Credentials{std::move(*user), std::move(*password)};
}

Result<AnnounceRequest> ParseAnnounce(std::string_view body, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  AnnounceRequest req;
  if (Field(*doc, "peer_id") != nullptr) {
    auto id = StringField(*doc, "peer_id");
    if (!id.ok()) return id.status();
    if (!IsPeerId(*id))
      return Status::InvalidArgument("'peer_id' must be 32 lower-case hex digits");
    req.peer_id = std::move(*id);
  }
  if (Field(*doc, "address") != nullptr) {
    auto address = StringField(*doc, "address");
    if (!address.ok()) return address.status();
    FERRY_RETURN_IF_ERROR(ValidatePeerAddress(*address));
    req.address = std::move(*address);
  }
  if (Field(*doc, "cert_sha256") != nullptr) {
    auto cert = Sha256Field(*doc, "cert_sha256", "");
    if (!cert.ok()) return cert.status();
    req.cert_sha256 = std::move(*cert);
  }
  Status error;
  if (const json* files = ArrayField(*doc, "files", &error)) {
    auto parsed = ParseFiles(*files, "files");
    if (!parsed.ok()) return parsed.status();
    req.files = std::move(*parsed);
  }
  if (const json* added = ArrayField(*doc, "added", &error)) {
    auto parsed = ParseFiles(*added, "added");
    if (!parsed.ok()) return parsed.status();
    req.added = std::move(*parsed);
  }
  if (const json* removed = ArrayField(*doc, "removed", &error)) {
    for (size_t i = 0; i < removed->size(); ++i) {
      const json& path = (*removed)[i];
      if (!path.is_string()) {
        return Status::InvalidArgument(fmt::format("removed[{}] must be a string", i));
      }
      std::string p = path.get<std::string>();
      if (Status s = ValidateSharedPath(p); !s.ok()) {
        return Status::InvalidArgument(fmt::format("removed[{}]: {}", i, s.message()));
      }
      req.removed.push_back(std::move(p));
    }
  }
  FERRY_RETURN_IF_ERROR(error);
  if (!req.peer_id) {
    if (!req.address) return Status::InvalidArgument("'address' is missing");
    if (!req.cert_sha256) return Status::InvalidArgument("'cert_sha256' is missing");
    if (!req.files) return Status::InvalidArgument("'files' is missing (it may be empty)");
    if (!req.added.empty() || !req.removed.empty()) {
      return Status::InvalidArgument(
          "'added' and 'removed' need the 'peer_id' of an earlier announce");
    }
  }
  return req;
}

Result<std::string> ParseHeartbeat(std::string_view body, int max_json_depth) {
  auto doc = ParseObject(body, max_json_depth);
  if (!doc.ok()) return doc.status();
  auto id = StringField(*doc, "peer_id");
  if (!id.ok()) return id.status();
  if (!IsPeerId(*id)) return Status::InvalidArgument("'peer_id' must be 32 lower-case hex digits");
  return std::move(*id);
}

Result<Page> ParsePage(const std::multimap<std::string, std::string>& params, int default_limit,
                       int max_limit) {
  auto limit = IntParam(params, "limit", default_limit, 1, max_limit);
  if (!limit.ok()) return limit.status();
  auto offset = IntParam(params, "offset", 0, 0, 100'000'000);
  if (!offset.ok()) return offset.status();
  return Page{*limit, *offset};
}

Result<SearchQuery> ParseSearch(const std::multimap<std::string, std::string>& params) {
  SearchQuery query;
  bool has_text = params.count("q") > 0;
  bool has_sha = params.count("sha256") > 0;
  if (has_text == has_sha) return Status::InvalidArgument("give either 'q' or 'sha256'");
  if (params.count("q") > 1 || params.count("sha256") > 1) {
    return Status::InvalidArgument("'q' and 'sha256' may be given once");
  }
  if (has_text) {
    query.text = params.find("q")->second;
    if (query.text.empty() || query.text.size() > kMaxSearchTextBytes) {
      return Status::InvalidArgument(
          fmt::format("'q' must have 1 to {} bytes", kMaxSearchTextBytes));
    }
    for (unsigned char c : query.text) {
      if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("'q' has a control character");
    }
    if (!IsValidUtf8(query.text)) return Status::InvalidArgument("'q' is not valid UTF-8");
  } else {
    std::string hex = LowerHex(params.find("sha256")->second);
    if (!IsSha256Hex(hex)) return Status::InvalidArgument("'sha256' must be 64 hex digits");
    query.sha256 = std::move(hex);
  }
  auto page = ParsePage(params, 50, 1000);
  if (!page.ok()) return page.status();
  query.limit = page->limit;
  query.offset = page->offset;
  return query;
}

Status ValidatePeerAddress(std::string_view address) {
  static const Status kBad = Status::InvalidArgument(
      "'address' must be host:port (an IPv4 address, [IPv6] or a DNS name; port 1-65535)");
  auto parsed = ParseHostPort(address);
  if (!parsed.ok()) return kBad;
  // A host with ':' is an IPv6 address the parser has checked; a zone
  // ("%eth0") means nothing to other machines.
  if (parsed->host.find(':') != std::string::npos) {
    return parsed->host.find('%') == std::string::npos ? Status::Ok() : kBad;
  }
  std::string_view host = parsed->host;
  std::string h(host);
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return Status::Ok();
  // All-digit-and-dot hosts that are not valid IPv4 ("999.1.1.1") are refused.
  if (h.find_first_not_of("0123456789.") == std::string::npos) return kBad;
  return IsDnsName(host) ? Status::Ok() : kBad;
}

Status ValidateSharedPath(std::string_view path) {
  if (path.empty() || path.size() > kMaxSharedPathBytes) {
    return Status::InvalidArgument(fmt::format("a path has 1 to {} bytes", kMaxSharedPathBytes));
  }
  if (path.front() == '/') return Status::InvalidArgument("a path must be relative");
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("a path may not contain control characters");
    }
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument(
          fmt::format("the path '{}' has an empty, '.' or '..' component", path));
    }
    start = slash + 1;
  }
  return Status::Ok();
}

bool IsPeerId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace ferry
