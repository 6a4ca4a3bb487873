// The web UI API's JSON (docs/peer-ui.md): what the routes answer and the
// events carry, defined once.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "directory_api/wire_types.h"
#include "peer/download_history.h"
#include "peer/download_manager.h"
#include "peer/share_index.h"
#include "peer/upload_board.h"

namespace ferry {

nlohmann::json DownloadJson(const DownloadView& d);
nlohmann::json HistoryJson(const HistoryEntry& e);
nlohmann::json UploadsJson(const std::vector<UploadView>& uploads);  // an array
nlohmann::json IndexingJson(const IndexingProgress& p);
nlohmann::json SharedFileJson(const SharedFile& f);
nlohmann::json PeerJson(const dirapi::PeerInfo& p, bool self);
nlohmann::json SearchHitJson(const dirapi::SearchHit& h);

// Text from the network or the disk dumped as JSON: bytes that are not
// UTF-8 become U+FFFD instead of failing the dump.
std::string Dump(const nlohmann::json& j);

}  // namespace ferry
