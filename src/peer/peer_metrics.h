// The peer's /metrics, in the Prometheus text format, following the
// directory's conventions (ferry_<component>_<what>[_total]).
#pragma once

#include <cstdint>
#include <string>

#include "peer/download_manager.h"
#include "peer/share_index.h"

namespace ferry {

struct PeerMetricsInput {
  int64_t bytes_served = 0;
  int uploads_in_progress = 0;
  int64_t shared_files = 0;
  IndexingProgress indexing;
  DownloadTotals downloads;
  size_t ui_pages = 0;
};

std::string RenderPeerMetrics(const PeerMetricsInput& in);

}  // namespace ferry
