#include "client/directory_reply.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "core/host_port.h"
#include "core/sha256.h"

namespace ferry::dirclient {

using json = nlohmann::json;

namespace {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// Peer ids go into URL paths: only hex digits, so nothing can escape the route.
bool IsPeerId(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), IsHexDigit);
}

// A file name as the API defines it: one component, no control characters.
bool IsFileName(std::string_view s) {
  return !s.empty() && s.size() <= 4096 && s != "." && s != ".." &&
         s.find('/') == std::string_view::npos && !HasControl(s);
}

bool IsSharedPath(std::string_view s) {
  if (s.empty() || s.size() > 4096) return false;
  for (size_t start = 0;;) {
    size_t slash = s.find('/', start);
    if (!IsFileName(s.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool IsPeerAddress(const std::string& s) {
  if (s.empty() || s.size() > 300 || HasControl(s) || s.find(' ') != std::string::npos) {
    return false;
  }
  return ParseHostPort(s).ok();
}

namespace {

// Reads typed fields out of one object of a reply; the first problem is kept,
// and names the field, so a bad reply says what was wrong with it.
class Fields {
 public:
  Fields(const json& j, std::string what) : j_(j), what_(std::move(what)) {
    if (!j_.is_object()) Fail(fmt::format("{} is not a JSON object", what_));
  }

  std::string String(const char* key) {
    const json* v = Find(key);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      Fail(fmt::format("\"{}\" in {} is not a string", key, what_));
      return {};
    }
    return v->get<std::string>();
  }
  // An integer >= 0 that fits int64_t.
  int64_t Count(const char* key) {
    const json* v = Find(key);
    if (v == nullptr) return 0;
    bool fits =
        v->is_number_unsigned()
            ? v->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
            : v->is_number_integer() && v->get<int64_t>() >= 0;
    if (!fits) {
      Fail(fmt::format("\"{}\" in {} is not a count", key, what_));
      return 0;
    }
    return v->is_number_unsigned() ? static_cast<int64_t>(v->get<uint64_t>()) : v->get<int64_t>();
  }
  std::string Sha256(const char* key) {
    std::string s = String(key);
    if (status_.ok() && !IsSha256Hex(s)) {
      Fail(fmt::format("\"{}\" in {} is not 64 hex digits", key, what_));
    }
    return Lower(s);
  }
  std::string PeerId(const char* key) {
    std::string s = String(key);
    if (status_.ok() && !IsPeerId(s))
      Fail(fmt::format("\"{}\" in {} is not a peer id", key, what_));
    return s;
  }
  std::string Address(const char* key) {
    std::string s = String(key);
    if (status_.ok() && !IsPeerAddress(s)) {
      Fail(fmt::format("\"{}\" in {} is not HOST:PORT", key, what_));
    }
    return s;
  }
  const json* Array(const char* key) {
    const json* v = Find(key);
    if (v != nullptr && !v->is_array()) {
      Fail(fmt::format("\"{}\" in {} is not an array", key, what_));
      return nullptr;
    }
    return v;
  }
  void Check(bool ok, const char* key, const char* problem) {
    if (status_.ok() && !ok) Fail(fmt::format("\"{}\" in {} {}", key, what_, problem));
  }
  const Status& status() const { return status_; }

 private:
  const json* Find(const char* key) {
    if (!status_.ok()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end()) {
      Fail(fmt::format("{} has no \"{}\"", what_, key));
      return nullptr;
    }
    return &*it;
  }
  void Fail(std::string message) {
    if (status_.ok()) status_ = Status::Internal(std::move(message));
  }

  const json& j_;
  std::string what_;
  Status status_;
};

}  // namespace

Result<json> ParseJson(const std::string& body) {
  // No exceptions: a syntax error comes back as a discarded value.
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Internal("the reply is not valid JSON");
  return j;
}

namespace {

Result<SharedFile> ParseFile(const json& j) {
  Fields f(j, "a file");
  SharedFile file;
  file.path = f.String("path");
  f.Check(IsSharedPath(file.path), "path", "is not a relative path");
  file.size = f.Count("size");
  file.sha256 = f.Sha256("sha256");
  file.mtime = f.Count("mtime");
  if (!f.status().ok()) return f.status();
  return file;
}

Result<PeerInfo> ParsePeer(const json& j) {
  Fields f(j, "a peer");
  PeerInfo p;
  p.peer_id = f.PeerId("peer_id");
  p.username = f.String("username");
  f.Check(!p.username.empty() && p.username.size() <= 256 && !HasControl(p.username), "username",
          "is not a user name");
  p.address = f.Address("address");
  p.cert_sha256 = f.Sha256("cert_sha256");
  p.files = f.Count("files");
  p.last_seen = f.Count("last_seen");
  if (!f.status().ok()) return f.status();
  return p;
}

Result<SearchHit> ParseHit(const json& j) {
  Fields f(j, "a search hit");
  SearchHit hit;
  hit.name = f.String("name");
  f.Check(IsFileName(hit.name), "name", "is not a file name");
  hit.size = f.Count("size");
  hit.sha256 = f.Sha256("sha256");
  const json* peers = f.Array("peers");
  if (!f.status().ok()) return f.status();
  for (const json& pj : *peers) {
    Fields pf(pj, "a search hit's peer");
    PeerAddress p;
    p.peer_id = pf.PeerId("peer_id");
    p.address = pf.Address("address");
    p.cert_sha256 = pf.Sha256("cert_sha256");
    if (!pf.status().ok()) return pf.status();
    hit.peers.push_back(std::move(p));
  }
  return hit;
}

template <typename T>
Result<std::vector<T>> ParseList(const std::string& body, Result<T> (*parse_one)(const json&)) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  if (!j->is_array()) return Status::Internal("the reply is not a JSON array");
  std::vector<T> out;
  out.reserve(j->size());
  for (const json& item : *j) {
    auto parsed = parse_one(item);
    if (!parsed.ok()) return parsed.status();
    out.push_back(std::move(parsed).value());
  }
  return out;
}

}  // namespace

Result<PeerLease> ParseLease(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  Fields f(*j, "the reply");
  PeerLease lease;
  lease.peer_id = f.PeerId("peer_id");
  int64_t seconds = f.Count("heartbeat_seconds");
  f.Check(seconds >= 1 && seconds <= 86400, "heartbeat_seconds", "is out of range");
  if (!f.status().ok()) return f.status();
  lease.heartbeat_seconds = static_cast<int>(seconds);
  return lease;
}

Result<std::vector<PeerInfo>> ParsePeers(const std::string& body) {
  return ParseList<PeerInfo>(body, ParsePeer);
}

Result<std::vector<SharedFile>> ParseFiles(const std::string& body) {
  return ParseList<SharedFile>(body, ParseFile);
}

Result<std::vector<SearchHit>> ParseHits(const std::string& body) {
  return ParseList<SearchHit>(body, ParseHit);
}

Result<std::string> ParseRegistered(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  Fields f(*j, "the reply");
  std::string name = f.String("username");
  f.Check(!name.empty() && !HasControl(name), "username", "is not a user name");
  if (!f.status().ok()) return f.status();
  return name;
}

Result<LoginInfo> ParseLogin(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  Fields f(*j, "the reply");
  LoginInfo info;
  info.token = f.String("token");
  // The token goes into a header: nothing that could break out of it.
  f.Check(!info.token.empty() && info.token.size() <= 512 &&
              std::all_of(info.token.begin(), info.token.end(),
                          [](char c) { return c > 0x20 && c < 0x7f; }),
          "token", "is not a token");
  info.username = f.String("username");
  info.expires_at = f.Count("expires_at");
  if (!f.status().ok()) return f.status();
  return info;
}

Result<TokenInfo> ParseTokenInfo(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  Fields f(*j, "the reply");
  TokenInfo info;
  info.username = f.String("username");
  info.expires_at = f.Count("expires_at");
  if (!f.status().ok()) return f.status();
  return info;
}

std::string ParseErrorMessage(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok() || !j->is_object()) return {};
  auto it = j->find("error");
  return it != j->end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace ferry::dirclient
