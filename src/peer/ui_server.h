// The peer's web UI and its local JSON API on one HTTP port
// (docs/peer-ui.md): the page's assets, the routes that show and act on the
// share, the downloads, the network, search and history, the live event
// feed, and /metrics, all behind UiAccess.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "net/http_routes.h"
#include "net/http_server.h"
#include "peer/download_history.h"
#include "peer/download_manager.h"
#include "peer/share_index.h"
#include "peer/shared_directory_client.h"
#include "peer/ui_access.h"
#include "peer/ui_events.h"
#include "peer/upload_board.h"

namespace ferry {

// What GET /api/v1/session says of this peer.
struct UiPeerInfo {
  std::string user;
  std::string address;  // where it serves chunks
  std::string share_dir;
  std::string downloads_dir;
  std::string directory;  // the directory's URL
};

// What the UI shows and acts on; each outlives the UiServer.
struct UiParts {
  ShareIndex* index = nullptr;
  UploadBoard* uploads = nullptr;
  DownloadManager* downloads = nullptr;
  DownloadHistory* history = nullptr;
  SharedDirectoryClient* directory = nullptr;
  UiEvents* events = nullptr;
  std::function<std::string()> peer_id;  // "" until announced
  std::function<int64_t()> bytes_served;
  std::function<int()> uploads_in_progress;
  UiPeerInfo info;
};

struct UiServerOptions {
  std::string host = "127.0.0.1";
  int port = 7090;  // 0 picks a free port
  // Keep-alive comments on each event stream this often.
  std::chrono::milliseconds keep_alive{std::chrono::seconds(15)};
  // Uploads and indexing progress are looked at this often, and pushed when
  // they changed.
  std::chrono::milliseconds tick{250};
};

class UiServer {
 public:
  // Listens and serves on threads of its own until destroyed. UNAVAILABLE
  // when the address is taken.
  static Result<std::unique_ptr<UiServer>> Start(const UiServerOptions& options,
                                                 const std::string& secret, UiParts parts);
  ~UiServer();
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  int port() const { return server_->port(); }
  // The link that logs a browser in: "http://127.0.0.1:7090/login?secret=...".
  std::string LoginLink() const { return access_->LoginLink(); }
  // The share's files changed: open pages are told so (on the next tick).
  void SharesChanged();

  UiServer(const UiServerOptions& options, UiParts parts);

 private:
  void Tick();  // the ticker thread

  const UiServerOptions options_;
  const UiParts parts_;
  std::unique_ptr<UiAccess> access_;
  std::unique_ptr<HttpRoutes> routes_;
  std::unique_ptr<HttpServer> server_;
  std::thread serving_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;       // GUARDED_BY(mu_)
  bool shares_changed_ = true;  // GUARDED_BY(mu_)
  std::thread ticker_;
};

}  // namespace ferry
