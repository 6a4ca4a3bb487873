// Threads that take jobs from a JobQueue and run them: inside `ferry server`
// for the embedded queue, inside `ferry worker` for Redis. Each running job is
// watched by its worker, which reports progress, keeps the claim alive and
// passes on a cancel request, every `heartbeat` interval.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job_queue.h"
#include "jobs/sealed_secret.h"

namespace ferry::jobs {

struct WorkerPoolOptions {
  int workers = 1;
  std::string homes_root;  // DATA/files: the users' homes
  std::chrono::milliseconds heartbeat{250};
  std::string name = "worker";  // for logs
  // Each job reads at most this many bytes of input per second (0: no limit),
  // so heavy jobs leave disk and CPU to file transfers on a shared machine.
  int64_t max_bytes_per_second = 0;
};

class WorkerPool {
 public:
  WorkerPool(JobQueue* queue, const SecretSealer* sealer, WorkerPoolOptions options);
  // Stops: running jobs stop and go back to the queue, to run again later.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

 private:
  void Work(int index);
  void Run(const Claim& claim);

  JobQueue* queue_;
  const SecretSealer* sealer_;
  const WorkerPoolOptions options_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace ferry::jobs
