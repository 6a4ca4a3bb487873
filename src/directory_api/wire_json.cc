#include "directory_api/wire_json.h"

#include <cstdint>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/credentials.h"
#include "directory_api/wire_rules.h"

namespace ferry::dirapi {
namespace {

// Moves a result's value into `out`; its status either way, so that reading
// a field is one line: FERRY_RETURN_IF_ERROR(Take(f.String("x"), &out.x)).
template <typename T, typename Out>
Status Take(Result<T> result, Out* out) {
  if (!result.ok()) return result.status();
  *out = std::move(result).value();
  return Status::Ok();
}

Status Prefixed(std::string_view where, const Status& s) {
  if (s.ok() || where.empty()) return s;
  return Status(s.code(), fmt::format("{}{}", where, s.message()));
}

// Reads the fields of one JSON object; every error names the field, after
// `where`.
class Fields {
 public:
  Fields(const Json& obj, std::string_view where) : obj_(obj), where_(where) {}

  // Null counts as missing: "is missing" rather than "must be a string".
  const Json* Find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  bool Has(const char* key) const { return Find(key) != nullptr; }

  Status Error(const char* key, std::string_view problem) const {
    return Status::InvalidArgument(fmt::format("{}'{}' {}", where_, key, problem));
  }

  Result<std::string> String(const char* key) const {
    const Json* v = Find(key);
    if (v == nullptr) return Error(key, "is missing");
    if (!v->is_string()) return Error(key, "must be a string");
    return v->get<std::string>();
  }

  // A whole number from 0 to 2^63-1.
  Result<int64_t> Count(const char* key) const {
    const Json* v = Find(key);
    if (v == nullptr) return Error(key, "is missing");
    if (v->is_number_unsigned()) {
      auto n = v->get<uint64_t>();
      if (n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return static_cast<int64_t>(n);
      }
    } else if (v->is_number_integer() && v->get<int64_t>() >= 0) {
      return v->get<int64_t>();
    }
    return Error(key, "must be a whole number from 0 to 2^63-1");
  }

  Result<std::string> Sha256(const char* key) const {
    auto s = String(key);
    if (!s.ok()) return s.status();
    return Wrap(CanonicalSha256(*s, key));
  }

  // "" when absent (or null): a field added to the API later.
  Result<std::string> OptionalSha256(const char* key) const {
    if (!Has(key)) return std::string();
    return Sha256(key);
  }

  Result<std::string> PeerId(const char* key) const {
    auto s = String(key);
    if (!s.ok()) return s.status();
    FERRY_RETURN_IF_ERROR(Prefixed(where_, ValidatePeerId(*s, key)));
    return s;
  }

  Result<std::string> Ticket(const char* key) const {
    auto s = String(key);
    if (!s.ok()) return s.status();
    FERRY_RETURN_IF_ERROR(Prefixed(where_, ValidateTicket(*s, key)));
    return s;
  }

  Result<std::string> Address(const char* key, AddressRule rule) const {
    auto s = String(key);
    if (!s.ok()) return s.status();
    if (HasControl(*s)) return Error(key, "may not contain control characters");
    FERRY_RETURN_IF_ERROR(Prefixed(where_, rule(*s)));
    return s;
  }

  Result<std::string> UserName(const char* key) const {
    auto s = String(key);
    if (!s.ok()) return s.status();
    FERRY_RETURN_IF_ERROR(Prefixed(where_, ValidateUserName(*s)));
    return s;
  }

  // nullptr when absent; an error when present but not an array.
  Result<const Json*> Array(const char* key) const {
    const Json* v = Find(key);
    if (v == nullptr) return static_cast<const Json*>(nullptr);
    if (!v->is_array()) return Error(key, "must be an array");
    return v;
  }

  template <typename T>
  Result<T> Wrap(Result<T> r) const {
    if (!r.ok()) return Prefixed(where_, r.status());
    return r;
  }

 private:
  const Json& obj_;
  std::string_view where_;
};

// An entry's `where` ("files[3]: ") without its ": ", to name the entry itself.
std::string_view EntryName(std::string_view where) {
  return where.ends_with(": ") ? where.substr(0, where.size() - 2) : where;
}

Status RequireObject(const Json& j, std::string_view where) {
  if (j.is_object()) return Status::Ok();
  return Status::InvalidArgument(fmt::format("{} must be an object", EntryName(where)));
}

// `files` or `added`: each entry a file, each path once.
Result<std::vector<SharedFile>> DecodeFileList(const Json& list, const char* name) {
  FERRY_RETURN_IF_ERROR(ValidateListSize(name, list.size()));
  std::vector<SharedFile> files;
  files.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    auto file = DecodeSharedFile(list[i], fmt::format("{}[{}]: ", name, i));
    if (!file.ok()) return file.status();
    files.push_back(std::move(*file));
  }
  std::set<std::string_view> seen;
  for (const auto& f : files) {
    if (!seen.insert(f.path).second) {
      return Status::InvalidArgument(fmt::format("{}: the path '{}' appears twice", name, f.path));
    }
  }
  return files;
}

Result<std::vector<std::string>> DecodePathList(const Json& list, const char* name) {
  FERRY_RETURN_IF_ERROR(ValidateListSize(name, list.size()));
  std::vector<std::string> paths;
  paths.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) {
      return Status::InvalidArgument(fmt::format("{}[{}] must be a string", name, i));
    }
    std::string path = list[i].get<std::string>();
    FERRY_RETURN_IF_ERROR(Prefixed(fmt::format("{}[{}]: ", name, i), ValidateSharedPath(path)));
    paths.push_back(std::move(path));
  }
  return paths;
}

Result<PeerInfo> DecodePeerInfo(const Json& j, const std::string& where, AddressRule rule) {
  FERRY_RETURN_IF_ERROR(RequireObject(j, where));
  Fields f(j, where);
  PeerInfo p;
  FERRY_RETURN_IF_ERROR(Take(f.PeerId("peer_id"), &p.peer_id));
  FERRY_RETURN_IF_ERROR(Take(f.UserName("username"), &p.username));
  FERRY_RETURN_IF_ERROR(Take(f.Address("address", rule), &p.address));
  FERRY_RETURN_IF_ERROR(Take(f.Sha256("cert_sha256"), &p.cert_sha256));
  FERRY_RETURN_IF_ERROR(Take(f.Count("files"), &p.files));
  FERRY_RETURN_IF_ERROR(Take(f.Count("last_seen"), &p.last_seen));
  return p;
}

Result<PeerAddress> DecodePeerAddress(const Json& j, const std::string& where, AddressRule rule) {
  FERRY_RETURN_IF_ERROR(RequireObject(j, where));
  Fields f(j, where);
  PeerAddress p;
  FERRY_RETURN_IF_ERROR(Take(f.PeerId("peer_id"), &p.peer_id));
  FERRY_RETURN_IF_ERROR(Take(f.Address("address", rule), &p.address));
  FERRY_RETURN_IF_ERROR(Take(f.Sha256("cert_sha256"), &p.cert_sha256));
  return p;
}

Result<ContentSource> DecodeContentSource(const Json& j, const std::string& where,
                                          AddressRule rule) {
  auto peer = DecodePeerAddress(j, where, rule);
  if (!peer.ok()) return peer.status();
  Fields f(j, where);
  ContentSource source;
  source.peer = std::move(*peer);
  FERRY_RETURN_IF_ERROR(Take(f.Count("size"), &source.size));
  FERRY_RETURN_IF_ERROR(Take(f.OptionalSha256("chunk_root"), &source.chunk_root));
  return source;
}

Result<SearchHit> DecodeSearchHit(const Json& j, const std::string& where, AddressRule rule) {
  FERRY_RETURN_IF_ERROR(RequireObject(j, where));
  Fields f(j, where);
  SearchHit hit;
  FERRY_RETURN_IF_ERROR(Take(f.String("name"), &hit.name));
  FERRY_RETURN_IF_ERROR(Prefixed(where, ValidateFileName(hit.name)));
  FERRY_RETURN_IF_ERROR(Take(f.Count("size"), &hit.size));
  FERRY_RETURN_IF_ERROR(Take(f.Sha256("sha256"), &hit.sha256));
  const Json* peers = nullptr;
  FERRY_RETURN_IF_ERROR(Take(f.Array("peers"), &peers));
  if (peers == nullptr) return f.Error("peers", "is missing");
  for (size_t i = 0; i < peers->size(); ++i) {
    auto peer =
        DecodePeerAddress((*peers)[i], fmt::format("{}.peers[{}]: ", EntryName(where), i), rule);
    if (!peer.ok()) return peer.status();
    hit.peers.push_back(std::move(*peer));
  }
  return hit;
}

// An array of `name` entries, each read by `decode(item, "name[i]: ")`.
template <typename T, typename Decode>
Result<std::vector<T>> DecodeArray(const Json& body, const char* name, Decode decode) {
  if (!body.is_array()) {
    return Status::InvalidArgument(fmt::format("the list of {} must be a JSON array", name));
  }
  std::vector<T> out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    auto item = decode(body[i], fmt::format("{}[{}]: ", name, i));
    if (!item.ok()) return item.status();
    out.push_back(std::move(*item));
  }
  return out;
}

Status RequireBodyObject(const Json& body) {
  if (body.is_object()) return Status::Ok();
  return Status::InvalidArgument("the body must be a JSON object");
}

}  // namespace

// ---- encoding -----------------------------------------------------------------

// chunk_root only when there is one, so that a file announced without one
// reads as it did before the field existed.
Json ToJson(const SharedFile& f) {
  Json out{{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}, {"mtime", f.mtime}};
  if (!f.chunk_root.empty()) out["chunk_root"] = f.chunk_root;
  return out;
}

Json ToJson(const Credentials& c) {
  return Json{{"username", c.username}, {"password", c.password}};
}

Json ToJson(const Announcement& a) {
  Json out = Json::object();
  if (a.peer_id) out["peer_id"] = *a.peer_id;
  if (a.address) out["address"] = *a.address;
  if (a.cert_sha256) out["cert_sha256"] = *a.cert_sha256;
  if (a.files) out["files"] = ToJson(*a.files);
  if (!a.added.empty()) out["added"] = ToJson(a.added);
  if (!a.removed.empty()) out["removed"] = a.removed;
  return out;
}

Json ToJson(const PeerLease& l) {
  return Json{{"peer_id", l.peer_id}, {"heartbeat_seconds", l.heartbeat_seconds}};
}

Json ToJson(const LoginInfo& l) {
  return Json{{"token", l.token}, {"username", l.username}, {"expires_at", l.expires_at}};
}

Json ToJson(const TokenInfo& t) {
  return Json{{"username", t.username}, {"expires_at", t.expires_at}};
}

Json ToJson(const PeerInfo& p) {
  return Json{{"peer_id", p.peer_id},         {"username", p.username}, {"address", p.address},
              {"cert_sha256", p.cert_sha256}, {"files", p.files},       {"last_seen", p.last_seen}};
}

Json ToJson(const PeerAddress& p) {
  return Json{{"peer_id", p.peer_id}, {"address", p.address}, {"cert_sha256", p.cert_sha256}};
}

Json ToJson(const SearchHit& h) {
  Json peers = Json::array();
  for (const auto& p : h.peers) peers.push_back(ToJson(p));
  return Json{
      {"name", h.name}, {"size", h.size}, {"sha256", h.sha256}, {"peers", std::move(peers)}};
}

Json ToJson(const ContentSource& s) {
  Json out = ToJson(s.peer);
  out["size"] = s.size;
  if (!s.chunk_root.empty()) out["chunk_root"] = s.chunk_root;
  return out;
}

Json ToJson(const std::vector<SharedFile>& files) {
  Json out = Json::array();
  for (const auto& f : files) out.push_back(ToJson(f));
  return out;
}

Json ToJson(const std::vector<PeerInfo>& peers) {
  Json out = Json::array();
  for (const auto& p : peers) out.push_back(ToJson(p));
  return out;
}

Json ToJson(const std::vector<SearchHit>& hits) {
  Json out = Json::array();
  for (const auto& h : hits) out.push_back(ToJson(h));
  return out;
}

Json ToJson(const std::vector<ContentSource>& sources) {
  Json out = Json::array();
  for (const auto& s : sources) out.push_back(ToJson(s));
  return out;
}

Json ToJson(const TicketRequest& r) { return Json{{"peer_id", r.peer_id}}; }

Json ToJson(const Ticket& t) {
  return Json{{"ticket", t.ticket}, {"peer_id", t.peer_id}, {"expires_at", t.expires_at}};
}

Json ToJson(const TicketCheck& c) { return Json{{"peer_id", c.peer_id}, {"ticket", c.ticket}}; }

Json ToJson(const TicketHolder& h) {
  return Json{{"username", h.username}, {"expires_at", h.expires_at}};
}

Json HeartbeatJson(const std::string& peer_id) { return Json{{"peer_id", peer_id}}; }

Json RegisteredJson(const std::string& username) { return Json{{"username", username}}; }

// ---- decoding -----------------------------------------------------------------

Result<Credentials> DecodeCredentials(const Json& body, CredentialUse use) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  Credentials c;
  FERRY_RETURN_IF_ERROR(Take(f.String("username"), &c.username));
  FERRY_RETURN_IF_ERROR(Take(f.String("password"), &c.password));
  FERRY_RETURN_IF_ERROR(ValidateUserName(c.username));
  FERRY_RETURN_IF_ERROR(use == CredentialUse::kRegister ? ValidatePassword(c.password)
                                                        : ValidateLoginPassword(c.password));
  return c;
}

Result<Announcement> DecodeAnnouncement(const Json& body, AddressRule address_rule) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  Announcement a;
  if (f.Has("peer_id")) FERRY_RETURN_IF_ERROR(Take(f.PeerId("peer_id"), &a.peer_id));
  if (f.Has("address")) FERRY_RETURN_IF_ERROR(Take(f.Address("address", address_rule), &a.address));
  if (f.Has("cert_sha256")) FERRY_RETURN_IF_ERROR(Take(f.Sha256("cert_sha256"), &a.cert_sha256));
  const Json* files = nullptr;
  FERRY_RETURN_IF_ERROR(Take(f.Array("files"), &files));
  if (files != nullptr) FERRY_RETURN_IF_ERROR(Take(DecodeFileList(*files, "files"), &a.files));
  const Json* added = nullptr;
  FERRY_RETURN_IF_ERROR(Take(f.Array("added"), &added));
  if (added != nullptr) FERRY_RETURN_IF_ERROR(Take(DecodeFileList(*added, "added"), &a.added));
  const Json* removed = nullptr;
  FERRY_RETURN_IF_ERROR(Take(f.Array("removed"), &removed));
  if (removed != nullptr)
    FERRY_RETURN_IF_ERROR(Take(DecodePathList(*removed, "removed"), &a.removed));
  if (!a.peer_id) {
    if (!a.address) return f.Error("address", "is missing");
    if (!a.cert_sha256) return f.Error("cert_sha256", "is missing");
    if (!a.files) return f.Error("files", "is missing (it may be empty)");
    if (!a.added.empty() || !a.removed.empty()) {
      return Status::InvalidArgument(
          "'added' and 'removed' need the 'peer_id' of an earlier announce");
    }
  }
  return a;
}

Result<std::string> DecodeHeartbeat(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  return Fields(body, "").PeerId("peer_id");
}

Result<SharedFile> DecodeSharedFile(const Json& item, std::string_view where) {
  FERRY_RETURN_IF_ERROR(RequireObject(item, where));
  Fields f(item, where);
  SharedFile file;
  FERRY_RETURN_IF_ERROR(Take(f.String("path"), &file.path));
  FERRY_RETURN_IF_ERROR(Prefixed(where, ValidateSharedPath(file.path)));
  FERRY_RETURN_IF_ERROR(Take(f.Count("size"), &file.size));
  FERRY_RETURN_IF_ERROR(Take(f.Count("mtime"), &file.mtime));
  FERRY_RETURN_IF_ERROR(Take(f.Sha256("sha256"), &file.sha256));
  FERRY_RETURN_IF_ERROR(Take(f.OptionalSha256("chunk_root"), &file.chunk_root));
  return file;
}

Result<PeerLease> DecodePeerLease(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  PeerLease lease;
  FERRY_RETURN_IF_ERROR(Take(f.PeerId("peer_id"), &lease.peer_id));
  int64_t seconds = 0;
  FERRY_RETURN_IF_ERROR(Take(f.Count("heartbeat_seconds"), &seconds));
  if (seconds < 1 || seconds > kMaxHeartbeatSeconds) {
    return f.Error("heartbeat_seconds",
                   fmt::format("must be from 1 to {}", kMaxHeartbeatSeconds).c_str());
  }
  lease.heartbeat_seconds = static_cast<int>(seconds);
  return lease;
}

Result<LoginInfo> DecodeLoginInfo(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  LoginInfo info;
  FERRY_RETURN_IF_ERROR(Take(f.String("token"), &info.token));
  FERRY_RETURN_IF_ERROR(ValidateBearerToken(info.token));
  FERRY_RETURN_IF_ERROR(Take(f.UserName("username"), &info.username));
  FERRY_RETURN_IF_ERROR(Take(f.Count("expires_at"), &info.expires_at));
  return info;
}

Result<TokenInfo> DecodeTokenInfo(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  TokenInfo info;
  FERRY_RETURN_IF_ERROR(Take(f.UserName("username"), &info.username));
  FERRY_RETURN_IF_ERROR(Take(f.Count("expires_at"), &info.expires_at));
  return info;
}

Result<std::string> DecodeRegistered(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  return Fields(body, "").UserName("username");
}

Result<TicketRequest> DecodeTicketRequest(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  TicketRequest request;
  FERRY_RETURN_IF_ERROR(Take(f.PeerId("peer_id"), &request.peer_id));
  return request;
}

Result<Ticket> DecodeTicket(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  Ticket ticket;
  FERRY_RETURN_IF_ERROR(Take(f.Ticket("ticket"), &ticket.ticket));
  FERRY_RETURN_IF_ERROR(Take(f.PeerId("peer_id"), &ticket.peer_id));
  FERRY_RETURN_IF_ERROR(Take(f.Count("expires_at"), &ticket.expires_at));
  return ticket;
}

Result<TicketCheck> DecodeTicketCheck(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  TicketCheck check;
  FERRY_RETURN_IF_ERROR(Take(f.PeerId("peer_id"), &check.peer_id));
  FERRY_RETURN_IF_ERROR(Take(f.Ticket("ticket"), &check.ticket));
  return check;
}

Result<TicketHolder> DecodeTicketHolder(const Json& body) {
  FERRY_RETURN_IF_ERROR(RequireBodyObject(body));
  Fields f(body, "");
  TicketHolder holder;
  FERRY_RETURN_IF_ERROR(Take(f.UserName("username"), &holder.username));
  FERRY_RETURN_IF_ERROR(Take(f.Count("expires_at"), &holder.expires_at));
  return holder;
}

Result<std::vector<SharedFile>> DecodeSharedFiles(const Json& body) {
  return DecodeArray<SharedFile>(body, "files", [](const Json& item, const std::string& where) {
    return DecodeSharedFile(item, where);
  });
}

Result<std::vector<PeerInfo>> DecodePeerInfos(const Json& body, AddressRule address_rule) {
  return DecodeArray<PeerInfo>(body, "peers",
                               [address_rule](const Json& item, const std::string& where) {
                                 return DecodePeerInfo(item, where, address_rule);
                               });
}

Result<std::vector<SearchHit>> DecodeSearchHits(const Json& body, AddressRule address_rule) {
  return DecodeArray<SearchHit>(body, "hits",
                                [address_rule](const Json& item, const std::string& where) {
                                  return DecodeSearchHit(item, where, address_rule);
                                });
}

Result<std::vector<ContentSource>> DecodeContentSources(const Json& body,
                                                        AddressRule address_rule) {
  return DecodeArray<ContentSource>(body, "sources",
                                    [address_rule](const Json& item, const std::string& where) {
                                      return DecodeContentSource(item, where, address_rule);
                                    });
}

}  // namespace ferry::dirapi
