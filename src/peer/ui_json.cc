#include "peer/ui_json.h"

#include <cmath>

namespace ferry {
namespace {

// Rates are whole bytes per second: enough for a display, and stable text.
double Whole(double rate) { return std::round(rate); }

}  // namespace

nlohmann::json DownloadJson(const DownloadView& d) {
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& p : d.peers) {
    peers.push_back({{"peer_id", p.peer_id},
                     {"user", p.user},
                     {"address", p.address},
                     {"state", p.state},
                     {"why", p.why},
                     {"bytes", p.bytes},
                     {"rate", Whole(p.rate)}});
  }
  return {{"id", d.id},
          {"sha256", d.sha256},
          {"name", d.name},
          {"size", d.size},
          {"done_bytes", d.done_bytes},
          {"rate", Whole(d.rate)},
          {"eta_seconds", d.eta_seconds ? nlohmann::json(*d.eta_seconds) : nlohmann::json()},
          {"state", DownloadStateName(d.state)},
          {"error", d.error},
          {"started_at", d.started_at},
          {"finished_at", d.finished_at},
          {"path", d.path},
          {"peers", std::move(peers)}};
}

nlohmann::json HistoryJson(const HistoryEntry& e) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : e.sources) {
    sources.push_back(
        {{"peer_id", s.peer_id}, {"user", s.user}, {"address", s.address}, {"bytes", s.bytes}});
  }
  return {{"id", e.id},
          {"sha256", e.sha256},
          {"name", e.name},
          {"size", e.size},
          {"state", e.state},
          {"error", e.error},
          {"started_at", e.started_at},
          {"finished_at", e.finished_at},
          {"seconds", std::round(e.seconds * 1000) / 1000},
          {"rate", Whole(e.rate)},
          {"path", e.path},
          {"sources", std::move(sources)}};
}

nlohmann::json UploadsJson(const std::vector<UploadView>& uploads) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& u : uploads) {
    out.push_back({{"user", u.user},
                   {"address", u.address},
                   {"sha256", u.sha256},
                   {"name", u.name},
                   {"bytes", u.bytes},
                   {"rate", Whole(u.rate)}});
  }
  return out;
}

nlohmann::json IndexingJson(const IndexingProgress& p) {
  return {{"running", p.running},
          {"files_hashed", p.files_hashed},
          {"bytes_hashed", p.bytes_hashed},
          {"files_pending", p.files_pending},
          {"bytes_pending", p.bytes_pending}};
}

nlohmann::json SharedFileJson(const SharedFile& f) {
  return {{"path", f.path},
          {"size", f.size},
          {"sha256", f.sha256},
          {"mtime", f.mtime_ns / 1'000'000'000},
          {"hashed_at", f.hashed_at}};
}

nlohmann::json PeerJson(const dirapi::PeerInfo& p, bool self) {
  return {{"peer_id", p.peer_id}, {"user", p.username},       {"address", p.address},
          {"files", p.files},     {"last_seen", p.last_seen}, {"self", self}};
}

nlohmann::json SearchHitJson(const dirapi::SearchHit& h) {
  return {{"name", h.name},
          {"size", h.size},
          {"sha256", h.sha256},
          {"peers", static_cast<int64_t>(h.peers.size())}};
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ferry
