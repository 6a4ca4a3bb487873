#include "jobs/worker_pool.h"

#include <future>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/secrets.h"
#include "jobs/job_tasks.h"

namespace ferry::jobs {
namespace {

// What a task sees: progress counters and the reasons to stop.
class RunControl final : public JobControl {
 public:
  RunControl(const std::atomic<bool>* shutting_down, int64_t max_bytes_per_second)
      : shutting_down_(shutting_down),
        max_bytes_per_second_(max_bytes_per_second),
        start_(std::chrono::steady_clock::now()) {}
  void SetTotal(uint64_t total_bytes) override { total_ = total_bytes; }
  void Advance(uint64_t bytes) override {
    uint64_t done = done_ += bytes;
    if (max_bytes_per_second_ <= 0) return;
    // Ahead of the allowed rate: wait until the work done is due, in short
    // naps so a stop request is still seen promptly.
    auto due =
        start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(static_cast<double>(done) /
                                                   static_cast<double>(max_bytes_per_second_)));
    while (std::chrono::steady_clock::now() < due && !StopRequested()) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          due - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
    }
  }
  bool StopRequested() const override { return cancelled_ || lost_ || *shutting_down_; }

  uint64_t done() const { return done_; }
  uint64_t total() const { return total_; }
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> lost_{false};

 private:
  const std::atomic<bool>* shutting_down_;
  const int64_t max_bytes_per_second_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> done_{0};
};

}  // namespace

WorkerPool::WorkerPool(JobQueue* queue, const SecretSealer* sealer, WorkerPoolOptions options)
    : queue_(queue),
      sealer_(sealer),
      options_(std::move(options)),
      scrypt_memory_(options_.scrypt_memory_bytes, "--scrypt-memory-mib") {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this, i] { Work(i); });
}

WorkerPool::~WorkerPool() {
  stopping_ = true;
  for (auto& t : threads_) t.join();
}

void WorkerPool::Work(int index) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stopping_) {
    auto claim = queue_->Take(std::chrono::milliseconds(500));
    if (!claim.ok()) {
      // The queue is unreachable (Redis down): keep trying, without flooding the log.
      spdlog::warn("{} {}: cannot take a job: {}", options_.name, index, claim.status().ToString());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    if (claim->has_value()) Run(**claim);
  }
}

JobLimits WorkerPool::LimitsFor(const Job& job) {
  JobLimits limits;
  limits.max_scrypt_log_n = options_.max_scrypt_log_n;
  limits.scrypt_memory = &scrypt_memory_;
  limits.unzip.max_ratio = options_.unzip_max_ratio;
  if (options_.output_budget) {
    if (auto budget = options_.output_budget(job.user)) limits.unzip.max_output_bytes = *budget;
  }
  return limits;
}

void WorkerPool::Run(const Claim& claim) {
  const Job& job = claim.job;
  Job outcome = job;
  auto started = std::chrono::steady_clock::now();
  RunControl control(&stopping_, options_.max_bytes_per_second);
  if (job.cancel_requested) {
    outcome.state = JobState::kCancelled;
    outcome.error_code = Code::kCancelled;
    outcome.error = StopStatus().message();
    if (queue_->Finish(claim, outcome).ok() && options_.on_finished) {
      options_.on_finished(outcome.state);
    }
    return;
  }
  spdlog::info("job {} ({}, user {}) started, attempt {}", job.id, KindName(job.kind), job.user,
               job.attempts);

  Result<std::string> result = Status::Internal("unset");
  auto passphrase = sealer_->Unseal(claim.sealed_secret);
  if (!passphrase.ok()) {
    result = passphrase.status();
  } else {
    const JobLimits limits = LimitsFor(job);
    auto task = std::async(std::launch::async, [&] {
      return RunJob(job, *passphrase, options_.homes_root, control, limits);
    });
    while (task.wait_for(options_.heartbeat) != std::future_status::ready) {
      auto stop = queue_->Heartbeat(claim, control.done(), control.total());
      if (stop.ok()) {
        if (*stop) control.cancelled_ = true;
      } else if (stop.status().code() == Code::kAborted) {
        control.lost_ = true;
      } else {
        spdlog::warn("job {}: cannot report progress: {}", job.id, stop.status().ToString());
      }
    }
    result = task.get();
    Wipe(*passphrase);
  }

  if (control.lost_) {
    spdlog::warn("job {}: another worker took it over; this attempt stops", job.id);
    return;
  }
  if (!result.ok() && stopping_ && !control.cancelled_) {
    // Interrupted by shutdown, not by the user: let it run again later.
    spdlog::info("job {}: interrupted by shutdown, back in the queue", job.id);
    (void)queue_->Release(claim);
    return;
  }
  outcome.done_bytes = control.done();
  outcome.total_bytes = control.total();
  if (result.ok()) {
    outcome.state = JobState::kDone;
    outcome.result = *result;
  } else {
    outcome.state =
        result.status().code() == Code::kCancelled ? JobState::kCancelled : JobState::kFailed;
    outcome.error_code = result.status().code();
    outcome.error = result.status().message();
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("job {} ({}, user {}) {} in {:.2f} s{}{}", job.id, KindName(job.kind), job.user,
               StateName(outcome.state), seconds, outcome.error.empty() ? "" : ": ", outcome.error);
  Status finished = queue_->Finish(claim, outcome);
  if (!finished.ok()) {
    spdlog::warn("job {}: cannot record its outcome: {}", job.id, finished.ToString());
  } else if (options_.on_finished) {
    options_.on_finished(outcome.state);
  }
}

}  // namespace ferry::jobs
