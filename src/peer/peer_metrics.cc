#include "peer/peer_metrics.h"

#include <algorithm>

#include "net/prometheus_text.h"

namespace ferry {
namespace {

uint64_t Count(int64_t n) { return static_cast<uint64_t>(std::max<int64_t>(0, n)); }

}  // namespace

std::string RenderPeerMetrics(const PeerMetricsInput& in) {
  PrometheusText out;
  out.Single("ferry_peer_served_bytes_total", "counter",
             "Chunk bytes sent to other peers since the peer started.", Count(in.bytes_served));
  out.Single("ferry_peer_fetched_bytes_total", "counter",
             "Verified bytes fetched from other peers by this run's downloads.",
             Count(in.downloads.bytes_fetched));
  out.Family("ferry_peer_downloads", "gauge", "This run's downloads, by state.");
  for (const auto& [state, n] : in.downloads.by_state) {
    out.Sample("ferry_peer_downloads", {{"state", DownloadStateName(state)}}, Count(n));
  }
  out.Single("ferry_peer_chunks_rejected_total", "counter",
             "Chunks fetched that failed their hash check.", Count(in.downloads.chunks_rejected));
  out.Single("ferry_peer_peers_dropped_total", "counter",
             "Source peers dropped for sending bad data.", Count(in.downloads.peers_dropped));
  out.Single("ferry_peer_uploads_in_progress", "gauge", "Chunk calls being served now.",
             Count(in.uploads_in_progress));
  out.Single("ferry_peer_shared_files", "gauge", "Files in the share index.",
             Count(in.shared_files));
  out.Single("ferry_peer_hashing_backlog_files", "gauge",
             "Files the running scan has still to hash (0 between scans).",
             Count(in.indexing.files_pending));
  out.Single("ferry_peer_hashing_backlog_bytes", "gauge",
             "Bytes the running scan has still to hash (0 between scans).",
             Count(in.indexing.bytes_pending));
  out.Single("ferry_peer_ui_event_streams", "gauge", "Web UI pages receiving live events.",
             static_cast<uint64_t>(in.ui_pages));
  return out.Take();
}

}  // namespace ferry
