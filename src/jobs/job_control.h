// What a running task sees of its job: where to report progress, and whether
// it should stop. Tasks (zip, unzip, encrypt, decrypt) take a JobControl& and
// know nothing of queues, stores or gRPC.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/status.h"

namespace ferry::jobs {

class JobControl {
 public:
  virtual ~JobControl() = default;
  // The amount of work, in bytes of input, once the task knows it (0 = unknown).
  virtual void SetTotal(uint64_t total_bytes) = 0;
  // Adds to the work done. Safe to call from any thread, as often as per chunk.
  virtual void Advance(uint64_t bytes) = 0;
  // True once the job was cancelled or the worker is shutting down. Tasks check
  // it between chunks and then return StopStatus() promptly.
  virtual bool StopRequested() const = 0;
};

// CANCELLED, worded for the job's error field.
Status StopStatus();

// CANCELLED when `control` asks to stop, OK otherwise: FERRY_RETURN_IF_ERROR(CheckStop(c)).
Status CheckStop(const JobControl& control);

// A JobControl that only counts: for tests and for callers with nothing to report to.
class CountingJobControl final : public JobControl {
 public:
  void SetTotal(uint64_t total_bytes) override { total_ = total_bytes; }
  void Advance(uint64_t bytes) override { done_ += bytes; }
  bool StopRequested() const override { return stop_; }

  void RequestStop() { stop_ = true; }
  uint64_t total() const { return total_; }
  uint64_t done() const { return done_; }

 private:
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> done_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace ferry::jobs
