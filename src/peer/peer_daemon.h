// `ferry peer`: shares a folder through the directory until SIGINT/SIGTERM.
//
// It makes its TLS key and self-signed certificate in DATA/tls on first
// start, keeps the share index in DATA (never inside the share), logs in to
// the directory, announces itself, scans the share (each file announced as
// soon as it is hashed), watches it and announces what changes, heartbeats,
// and on SIGINT/SIGTERM withdraws from the directory at once and exits.
// Serving chunks to other peers is the chunk service's, which this does not
// start yet: the address it announces is where that service will listen.
#pragma once

#include <string>

#include "client/directory_client.h"
#include "core/status.h"
#include "peer/share_watcher.h"

namespace ferry {

struct PeerOptions {
  std::string share_dir;      // required
  std::string downloads_dir;  // created if missing; "" = DATA/downloads
  std::string data_dir = "./ferry-peer";
  std::string listen = "127.0.0.1:7443";
  std::string advertise;  // "host:port" announced; "" = listen
  dirclient::DirectoryClientOptions directory;
  std::string user;
  std::string password;
  ShareWatcherOptions watch;
  int hash_threads = 0;  // 0: every CPU the process may use
  bool verbose = false;
};

// Runs the peer until a signal. Errors: a setting that does not hold (the
// share missing, the data folder inside the share, a bad address), the TLS
// identity or index that cannot be made, the directory refusing the login.
Status RunPeer(const PeerOptions& options);

}  // namespace ferry
