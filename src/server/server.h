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
  int max_clients = 64;
  int idle_timeout_seconds = 100;
  int shutdown_grace_seconds = 30;
  int upload_retention_hours = 24;
  int login_delay_ms = 1000;  // first delay after repeated failed logins
  bool verbose = false;
  // Background jobs: "embedded" runs them on `workers` threads in this process
  // (0 = one per core); "redis://HOST:PORT" queues them for `ferry worker`s.
  std::string queue = "embedded";
  int workers = 0;
  int64_t job_bytes_per_second = 0;  // per job; 0 = no limit
  JobLimitOptions job_limits;        // what one job may cost (embedded workers)
  int max_jobs_per_user = 16;        // queued + running jobs of one user, any queue
};

// Runs the server; returns when it has shut down (OK) or failed to start.
Status RunServer(const ServerOptions& options);

}  // namespace ferry
