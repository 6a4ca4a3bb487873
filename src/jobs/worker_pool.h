// Threads that take jobs from a JobQueue and run them: inside `ferry server`
// for the embedded queue, inside `ferry worker` for Redis. Each running job is
// watched by its worker, which reports progress, keeps the claim alive and
// passes on a cancel request, every `heartbeat` interval.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "jobs/age.h"
#include "jobs/job_queue.h"
#include "jobs/job_tasks.h"
#include "jobs/memory_budget.h"
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
  // decrypt refuses files asking for a higher scrypt work factor (log2 N).
  int max_scrypt_log_n = age::kScryptLogN;
  // Memory all concurrent scrypt derivations of the pool share; one that
  // needs more than all of it is refused, others wait their turn.
  uint64_t scrypt_memory_bytes = uint64_t{1} << 30;
  // unzip refuses archives whose declared output exceeds this many times the
  // archive's size.
  uint64_t unzip_max_ratio = UnzipLimits{}.max_ratio;
  // When set, the most bytes a job of `user` may write (unzip's output
  // budget, e.g. what is left of the user's quota); nullopt: no budget.
  // Called from worker threads.
  std::function<std::optional<uint64_t>(const std::string& user)> output_budget;
  // When set, called with the final state (done, failed, cancelled) of each
  // job this pool ends, once the queue has it on record; not for a job handed
  // back or lost to another worker. Called from worker threads; must be cheap.
  std::function<void(JobState)> on_finished;
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
  JobLimits LimitsFor(const Job& job);

  JobQueue* queue_;
  const SecretSealer* sealer_;
  const WorkerPoolOptions options_;
  MemoryBudget scrypt_memory_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace ferry::jobs
