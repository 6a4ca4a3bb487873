// `ferry worker`: runs jobs from a Redis queue on the files of a data
// directory it shares with the server (same machine, or shared storage).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "jobs/age.h"

namespace ferry {

namespace jobs {
struct WorkerPoolOptions;
}

// What one job may cost, for the embedded workers of `ferry server` and for
// `ferry worker` alike (docs/security.md).
struct JobLimitOptions {
  // decrypt refuses files asking for a higher scrypt work factor (log2 N,
  // 1..22); the default is what ferry and age write.
  int max_scrypt_work_factor = jobs::age::kScryptLogN;
  // Memory all concurrent scrypt derivations of the process share, in MiB
  // (128 * r * N bytes each: 256 MiB at 2^18).
  int64_t scrypt_memory_mib = 1024;
  // unzip refuses archives declaring more than this many times their own
  // size; 0: no limit.
  int64_t unzip_max_ratio = 1000;

  // INVALID_ARGUMENT naming the flag of a value out of range.
  Status Validate() const;
  void ApplyTo(jobs::WorkerPoolOptions& pool) const;
};

struct WorkerOptions {
  std::string queue;  // redis://HOST:PORT
  std::string data_dir = "./ferry-data";
  int workers = 0;                      // 0 = one per core
  int visibility_timeout_seconds = 30;  // a silent worker's job is taken over after this
  int64_t job_bytes_per_second = 0;     // per job; 0 = no limit
  JobLimitOptions job_limits;
  bool verbose = false;
};

// Runs until SIGINT/SIGTERM; jobs still running then go back to the queue.
Status RunWorker(const WorkerOptions& options);

}  // namespace ferry
