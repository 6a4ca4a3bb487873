// `ferry directory`: opens the store, the TLS identity and the log, serves the
// REST API until SIGINT/SIGTERM, then flushes heartbeats and stops.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "directory/directory_store.h"
#include "directory/strict_json.h"

namespace ferry {

struct DirectoryServerOptions {
  std::string listen = "127.0.0.1:7080";
  std::string data_dir = "./ferry-data";  // tls/ and logs/; the default SQLite file
  std::string db;                         // sqlite:PATH or postgresql://...; "" = DATA/directory.db
  bool plain_http = false;
  std::string tls_cert, tls_key;
  double heartbeat_seconds = 10;
  int loops = 0;  // event loops; 0: one per usable CPU
  int threads = 128;
  size_t max_body = 16 << 20;    // an announce with a token
  size_t max_small_body = 4096;  // every other request
  int max_json_depth = kDefaultMaxJsonDepth;
  int register_per_minute = 10;  // per source address (IPv6: /64); 0: no limit
  int login_per_minute = 120;
  size_t rate_limit_addresses = 65536;
  int hash_concurrency = 0;  // password hashes at once; 0: one per usable CPU, at most 4
  int hash_queue = 64;       // registers and logins waiting for a hash; beyond, 429
  int ticket_seconds = 300;  // how long a ticket names its fetcher to its serving peer
  int db_connections = 8;
  int search_cache_mib = 32;  // 0: every search asks the store
  // Searches the store runs at once; 0: one per usable CPU with SQLite, and
  // --db-connections with PostgreSQL (whose work may be on another machine).
  int search_concurrency = 0;
  bool verbose = false;
};

Status RunDirectory(const DirectoryServerOptions& options);

// Opens the store a --db URL names.
Result<std::unique_ptr<DirectoryStore>> OpenDirectoryStore(const std::string& url, int connections);

}  // namespace ferry
