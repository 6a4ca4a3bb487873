// A budget of bytes shared by concurrent tasks, like a counting semaphore:
// a task takes what it needs before allocating and gives it back when done.
// The job worker uses one to bound the memory all scrypt derivations of a
// process hold at once.
//
// Thread safety: all members may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace ferry::jobs {

class JobControl;

class MemoryBudget {
 public:
  // A share of the budget, returned when destroyed. Move-only.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept;
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    uint64_t bytes() const { return bytes_; }

   private:
    friend class MemoryBudget;
    Lease(MemoryBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    MemoryBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // `capacity` bytes in all; `flag` names the setting that raises it, for
  // error messages.
  MemoryBudget(uint64_t capacity, std::string flag);
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;
  // REQUIRES: every lease was returned.
  ~MemoryBudget() = default;

  // Takes `bytes` for `what` (a person-readable name of the use), waiting
  // while other leases hold too much. Waiters are served in arrival order.
  // RESOURCE_EXHAUSTED at once if `bytes` exceeds the whole capacity; CANCELLED
  // when `control` asks to stop while waiting.
  Result<Lease> Acquire(uint64_t bytes, const std::string& what, const JobControl& control);

  uint64_t capacity() const { return capacity_; }
  // Bytes held by leases now.
  uint64_t in_use() const;

 private:
  void Release(uint64_t bytes);
  // Moves `serving_` past tickets whose waiters stopped. REQUIRES: mu_ held.
  void SkipAbandoned();

  const uint64_t capacity_;
  const std::string flag_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  uint64_t in_use_ = 0;              // GUARDED_BY(mu_)
  uint64_t next_ticket_ = 0;         // GUARDED_BY(mu_): handed to each waiter in turn
  uint64_t serving_ = 0;             // GUARDED_BY(mu_): the ticket that may take next
  std::vector<uint64_t> abandoned_;  // GUARDED_BY(mu_): tickets whose waiters stopped
};

}  // namespace ferry::jobs
