// The distributed queue: jobs on a Redis stream read by a consumer group, so
// any number of `ferry worker` processes share them; each job's state lives in
// a Redis hash that the server reads for Get/List/Watch.
//
//   ferry:jobs               stream; each entry names a job id
//   ferry:job:<id>           hash: the job (args, state, progress, outcome;
//                            the sealed secret until the job ends)
//   ferry:user:<name>:jobs   sorted set of the user's job ids by creation time
//
// A worker's claim is its delivery of the stream entry plus the job's attempt
// number. Heartbeats record progress and reset the entry's idle time; an entry
// idle for the visibility timeout (its worker died) is reclaimed with
// XAUTOCLAIM by another worker, which bumps the attempt, so the dead worker's
// claim can no longer finish the job. State changes are Lua scripts, atomic.
//
// Workers take jobs in stream order (first in, first out across users); the
// per-user cap on queued and running jobs (JobService) bounds how far one user
// can push another's job back.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "jobs/job_queue.h"
#include "jobs/redis_client.h"

namespace ferry::jobs {

struct RedisQueueOptions {
  std::chrono::milliseconds visibility_timeout{30'000};
  std::string consumer;  // this process's name in the consumer group
};

class RedisJobQueue final : public JobQueue {
 public:
  RedisJobQueue(RedisAddress address, RedisQueueOptions options);

  // Checks that Redis answers (PING).
  Status Ping();

  Status Submit(const Job& job, const std::string& sealed_secret) override;
  Result<Job> Get(const std::string& user, const std::string& id) override;
  Result<std::vector<Job>> List(const std::string& user, int limit) override;
  Result<int64_t> CountActive(const std::string& user) override;
  Result<int64_t> CountWaiting() override;
  Result<Job> Cancel(const std::string& user, const std::string& id) override;
  Result<std::optional<Claim>> Take(std::chrono::milliseconds wait) override;
  Result<bool> Heartbeat(const Claim& claim, uint64_t done, uint64_t total) override;
  Status Finish(const Claim& claim, const Job& outcome) override;
  Status Release(const Claim& claim) override;

 private:
  Status EnsureGroup();
  Result<std::optional<Claim>> ClaimEntry(const std::string& entry_id, const std::string& job_id);
  Status Retire(const std::string& entry_id);

  RedisPool pool_;
  const RedisQueueOptions options_;
  std::atomic<bool> group_ready_{false};
};

}  // namespace ferry::jobs
