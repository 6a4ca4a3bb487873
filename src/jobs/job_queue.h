// Where jobs wait and where their state lives. One interface, two backends:
// the embedded queue (SQLite, worked by a pool inside `ferry server`) and the
// Redis queue (a stream with a consumer group, worked by `ferry worker`s).
//
// The server's job service uses the client half (Submit/Get/List/Cancel); a
// WorkerPool uses the worker half (Take/Heartbeat/Finish/Release).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "jobs/job.h"

namespace ferry::jobs {

// A job a worker has taken, and its right to report on it.
struct Claim {
  Job job;
  std::string sealed_secret;
  std::string receipt;  // backend-specific: which delivery this is (a stream entry id)
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // Stores `job` (state queued) and makes it available to workers. UNAVAILABLE
  // when the backend cannot be reached.
  virtual Status Submit(const Job& job, const std::string& sealed_secret) = 0;
  // NOT_FOUND for an unknown id and for another user's job alike.
  virtual Result<Job> Get(const std::string& user, const std::string& id) = 0;
  // The user's jobs, newest first.
  virtual Result<std::vector<Job>> List(const std::string& user, int limit) = 0;
  // How many of the user's jobs are queued or running.
  virtual Result<int64_t> CountActive(const std::string& user) = 0;
  // How many jobs of all users wait for a worker (queued, not yet taken):
  // the queue's depth. UNAVAILABLE when the backend cannot be reached.
  virtual Result<int64_t> CountWaiting() = 0;
  // A queued job is cancelled at once; a running one is asked to stop (its
  // worker finishes it as cancelled shortly); a finished one is left as it is.
  virtual Result<Job> Cancel(const std::string& user, const std::string& id) = 0;

  // Waits up to `wait` for a job to run; nullopt if none came.
  virtual Result<std::optional<Claim>> Take(std::chrono::milliseconds wait) = 0;
  // Records progress and keeps the claim alive. Returns true when the job
  // should stop (cancelled); ABORTED when the claim was lost to another worker.
  virtual Result<bool> Heartbeat(const Claim& claim, uint64_t done, uint64_t total) = 0;
  // Records the outcome (state, result or error); ABORTED if the claim was lost.
  virtual Status Finish(const Claim& claim, const Job& outcome) = 0;
  // Hands a running job back to the queue (a worker stopping mid-job).
  virtual Status Release(const Claim& claim) = 0;
};

}  // namespace ferry::jobs
