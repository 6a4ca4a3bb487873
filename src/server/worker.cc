#include "server/worker.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/logging.h"
#include "core/secrets.h"
#include "core/usable_cpus.h"
#include "jobs/redis_job_queue.h"
#include "jobs/worker_pool.h"
#include "net/daemon.h"
#include "server/data_dir.h"

namespace ferry {

Status JobLimitOptions::Validate() const {
  if (max_scrypt_work_factor < 1 || max_scrypt_work_factor > jobs::age::kMaxScryptLogN) {
    return Status::InvalidArgument(
        fmt::format("--max-scrypt-work-factor must be from 1 to {}", jobs::age::kMaxScryptLogN));
  }
  if (scrypt_memory_mib < 1 || scrypt_memory_mib > (int64_t{1} << 20)) {
    return Status::InvalidArgument("--scrypt-memory-mib must be from 1 to 1048576");
  }
  if (unzip_max_ratio < 0) return Status::InvalidArgument("--unzip-max-ratio must be at least 0");
  return Status::Ok();
}

void JobLimitOptions::ApplyTo(jobs::WorkerPoolOptions& pool) const {
  pool.max_scrypt_log_n = max_scrypt_work_factor;
  pool.scrypt_memory_bytes = static_cast<uint64_t>(scrypt_memory_mib) << 20;
  pool.unzip_max_ratio = static_cast<uint64_t>(unzip_max_ratio);
}

Status RunWorker(const WorkerOptions& o) {
  Daemon daemon;

  if (o.workers < 0) return Status::InvalidArgument("--workers must be at least 0");
  if (o.visibility_timeout_seconds < 1) {
    return Status::InvalidArgument("--visibility-timeout must be at least 1");
  }
  FERRY_RETURN_IF_ERROR(o.job_limits.Validate());
  auto address = jobs::RedisAddress::Parse(o.queue);
  if (!address.ok()) return address.status();
  FERRY_RETURN_IF_ERROR(InitCrypto());
  DataDir data{o.data_dir};
  if (::access(data.files().c_str(), F_OK) != 0) {
    return Status::NotFound(fmt::format(
        "'{}' is not a ferry data directory (no files/ in it); give the server's --data",
        o.data_dir));
  }
  FERRY_RETURN_IF_ERROR(
      InitLogging(fmt::format("{}/worker-{}.log", data.logs(), ::getpid()), o.verbose));
  auto sealer = jobs::SecretSealer::OpenOrCreate(data.jobs_key());
  if (!sealer.ok()) return sealer.status();

  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  jobs::RedisQueueOptions queue_options;
  queue_options.visibility_timeout = std::chrono::seconds(o.visibility_timeout_seconds);
  queue_options.consumer = fmt::format("{}-{}", host, ::getpid());
  jobs::RedisJobQueue queue(*address, queue_options);
  if (Status ping = queue.Ping(); !ping.ok()) {
    spdlog::warn("{}; retrying until it is reachable", ping.message());
  }
  int n = o.workers > 0 ? o.workers : UsableCpus();
  {
    jobs::WorkerPoolOptions pool_options;
    pool_options.workers = n;
    pool_options.homes_root = data.files();
    pool_options.name = queue_options.consumer;
    pool_options.max_bytes_per_second = o.job_bytes_per_second;
    o.job_limits.ApplyTo(pool_options);
    jobs::WorkerPool pool(&queue, &*sealer, std::move(pool_options));
    spdlog::info("ferry worker {} taking jobs from {} with {} threads (data in {})",
                 queue_options.consumer, address->ToString(), n, o.data_dir);
    daemon.WaitForSignal({.what_happens = "handing running jobs back to the queue"});
  }
  spdlog::info("ferry worker stopped");
  return Status::Ok();
}

}  // namespace ferry
