#include "peer/peer_metrics.h"

#include <fmt/format.h>

namespace ferry {
namespace {

void Metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

}  // namespace

std::string RenderPeerMetrics(const PeerMetricsInput& in) {
  std::string out;
  Metric(out, "ferry_peer_served_bytes_total", "counter",
         "Chunk bytes sent to other peers since the peer started.",
         static_cast<double>(in.bytes_served));
  Metric(out, "ferry_peer_fetched_bytes_total", "counter",
         "Verified bytes fetched from other peers by this run's downloads.",
         static_cast<double>(in.downloads.bytes_fetched));
  out += "# HELP ferry_peer_downloads This run's downloads, by state.\n";
  out += "# TYPE ferry_peer_downloads gauge\n";
  for (const auto& [state, n] : in.downloads.by_state) {
    out += fmt::format("ferry_peer_downloads{{state=\"{}\"}} {}\n", DownloadStateName(state), n);
  }
  Metric(out, "ferry_peer_chunks_rejected_total", "counter",
         "Chunks fetched that failed their hash check.",
         static_cast<double>(in.downloads.chunks_rejected));
  Metric(out, "ferry_peer_peers_dropped_total", "counter",
         "Source peers dropped for sending bad data.",
         static_cast<double>(in.downloads.peers_dropped));
  Metric(out, "ferry_peer_uploads_in_progress", "gauge", "Chunk calls being served now.",
         in.uploads_in_progress);
  Metric(out, "ferry_peer_shared_files", "gauge", "Files in the share index.",
         static_cast<double>(in.shared_files));
  Metric(out, "ferry_peer_hashing_backlog_files", "gauge",
         "Files the running scan has still to hash (0 between scans).",
         static_cast<double>(in.indexing.files_pending));
  Metric(out, "ferry_peer_hashing_backlog_bytes", "gauge",
         "Bytes the running scan has still to hash (0 between scans).",
         static_cast<double>(in.indexing.bytes_pending));
  Metric(out, "ferry_peer_ui_event_streams", "gauge", "Web UI pages receiving live events.",
         static_cast<double>(in.ui_pages));
  return out;
}

}  // namespace ferry
