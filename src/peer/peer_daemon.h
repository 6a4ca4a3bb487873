// `ferry peer`: shares a folder through the directory until SIGINT/SIGTERM.
//
// It makes its TLS key and self-signed certificate in DATA/tls on first
// start, keeps the share index in DATA (never inside the share), logs in to
// the directory, announces itself, scans the share (each file announced as
// soon as it is hashed), watches it and announces what changes, heartbeats,
// serves its files' chunks on --listen (the chunk service over TLS with its
// certificate, to callers whose directory ticket the directory vouches for),
// and on SIGINT/SIGTERM withdraws from the directory at once, lets running
// uploads finish within a grace period, and exits. It serves a web UI and
// its local API on ui_listen (docs/peer-ui.md), through which downloads are
// started, followed and kept in a history.
#pragma once

#include <string>

#include "client/directory_client.h"
#include "core/status.h"
#include "peer/chunk_service.h"
#include "peer/share_watcher.h"

namespace ferry {

struct PeerOptions {
  std::string share_dir;      // required
  std::string downloads_dir;  // created if missing; "" = DATA/downloads
  std::string data_dir = "./ferry-peer";
  std::string listen = "127.0.0.1:7443";
  std::string advertise;  // "host:port" announced; "" = listen
  // The web UI and its local API (docs/peer-ui.md); "off": none.
  std::string ui_listen = "127.0.0.1:7090";
  bool ui_allow_remote = false;  // required for a ui_listen that is not loopback
  dirclient::DirectoryClientOptions directory;
  std::string user;
  std::string password;
  ShareWatcherOptions watch;
  int hash_threads = 0;  // 0: every CPU the process may use
  ChunkServiceOptions serve;
  // How long running uploads may go on after SIGINT/SIGTERM.
  std::chrono::seconds upload_grace{10};
  bool verbose = false;
};

// Runs the peer until a signal. Errors: a setting that does not hold (the
// share missing, the data folder inside the share, a bad address), the TLS
// identity or index that cannot be made, the directory refusing the login.
Status RunPeer(const PeerOptions& options);

}  // namespace ferry
