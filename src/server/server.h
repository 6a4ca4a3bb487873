// `ferry server`: assembles the services and runs until SIGINT or SIGTERM.
#pragma once

#include <chrono>
#include <string>

#include "core/status.h"
#include "server/worker.h"

namespace ferry {

struct ServerOptions {
  std::string listen = "127.0.0.1:7070";
  std::string data_dir = "./ferry-data";
  std::string tls_cert;  // empty: DATA/tls/server.crt, made on first start
  std::string tls_key;
  // Connections are admitted before any TLS work (docs/security.md).
  int max_connections = 1024;
  int max_connections_per_source = 128;
  int handshake_timeout_seconds = 10;
  int max_streams_per_connection = 100;
  int max_clients = 64;
  int max_sessions_per_user = 8;
  int idle_timeout_seconds = 100;
  int shutdown_grace_seconds = 30;
  int upload_retention_hours = 24;
  // Space uploads leave free on the data file system: "5%", "2G", "0"; empty:
  // 5% or 1 GiB, whichever is smaller.
  std::string reserve_space;
  int login_delay_ms = 1000;  // first delay after repeated failed logins
  // The audit log: records older than this are removed (0: kept), its
  // database is kept within the size, and a reserve of the size is kept on
  // the data disk so that records can still be written when it fills.
  int audit_retention_days = 90;
  int audit_max_mb = 1024;
  int audit_reserve_mb = 8;
  bool verbose = false;
  // Background jobs: "embedded" runs them on `workers` threads in this process
  // (0 = one per core); "redis://HOST:PORT" queues them for `ferry worker`s.
  std::string queue = "embedded";
  int workers = 0;
  int64_t job_bytes_per_second = 0;  // per job; 0 = no limit
  JobLimitOptions job_limits;        // what one job may cost (embedded workers)
  int max_jobs_per_user = 16;        // queued + running jobs of one user, any queue
  // HOST:PORT of a plain-HTTP GET /metrics (Prometheus text); empty: none.
  // An address other than loopback needs metrics_allow_remote.
  std::string metrics_listen;
  bool metrics_allow_remote = false;
};

// Runs the server; returns when it has shut down (OK) or failed to start.
Status RunServer(const ServerOptions& options);

}  // namespace ferry
