// `ferry worker`: runs jobs from a Redis queue on the files of a data
// directory it shares with the server (same machine, or shared storage).
#pragma once

#include <string>

#include "core/status.h"

namespace ferry {

struct WorkerOptions {
  std::string queue;  // redis://HOST:PORT
  std::string data_dir = "./ferry-data";
  int workers = 0;                      // 0 = one per core
  int visibility_timeout_seconds = 30;  // a silent worker's job is taken over after this
  int64_t job_bytes_per_second = 0;     // per job; 0 = no limit
  bool verbose = false;
};

// Runs until SIGINT/SIGTERM; jobs still running then go back to the queue.
Status RunWorker(const WorkerOptions& options);

}  // namespace ferry
