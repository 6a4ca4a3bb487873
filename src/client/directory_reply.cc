#include "client/directory_reply.h"

#include <fmt/format.h>

#include "core/host_port.h"
#include "core/sha256.h"
#include "directory_api/wire_json.h"

namespace ferry::dirclient {

using json = nlohmann::json;

namespace {

// A reply that breaks the wire format: the directory misbehaves, so the
// caller's request was not at fault.
Status Malformed(const Status& s) {
  return Status::Internal(fmt::format("the directory's reply is malformed: {}", s.message()));
}

template <typename T>
Result<T> FromReply(Result<T> decoded) {
  if (!decoded.ok()) return Malformed(decoded.status());
  return decoded;
}

}  // namespace

Status CheckPeerAddress(std::string_view address) {
  if (IsPeerAddress(std::string(address))) return Status::Ok();
  return Status::InvalidArgument("'address' is not HOST:PORT");
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool IsPeerAddress(const std::string& s) {
  if (s.empty() || s.size() > 300 || HasControl(s) || s.find(' ') != std::string::npos) {
    return false;
  }
  return ParseHostPort(s).ok();
}

Result<json> ParseJson(const std::string& body) {
  // No exceptions: a syntax error comes back as a discarded value.
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Internal("the reply is not valid JSON");
  return j;
}

Result<dirapi::PeerLease> ParseLease(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodePeerLease(*j));
}

Result<std::vector<dirapi::PeerInfo>> ParsePeers(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodePeerInfos(*j, CheckPeerAddress));
}

Result<std::vector<dirapi::SharedFile>> ParseFiles(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeSharedFiles(*j));
}

Result<std::vector<dirapi::SearchHit>> ParseHits(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeSearchHits(*j, CheckPeerAddress));
}

Result<std::vector<dirapi::ContentSource>> ParseSources(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeContentSources(*j, CheckPeerAddress));
}

Result<dirapi::Ticket> ParseTicket(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeTicket(*j));
}

Result<dirapi::TicketHolder> ParseTicketHolder(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeTicketHolder(*j));
}

Result<std::string> ParseRegistered(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeRegistered(*j));
}

Result<dirapi::LoginInfo> ParseLogin(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeLoginInfo(*j));
}

Result<dirapi::TokenInfo> ParseTokenInfo(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  return FromReply(dirapi::DecodeTokenInfo(*j));
}

std::string ParseErrorMessage(const std::string& body) {
  auto j = ParseJson(body);
  if (!j.ok() || !j->is_object()) return {};
  auto it = j->find("error");
  return it != j->end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace ferry::dirclient
