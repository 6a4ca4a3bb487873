#include "jobs/memory_budget.h"

#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "jobs/job_control.h"

namespace ferry::jobs {
namespace {

// How often a waiting task looks at its stop flag.
constexpr auto kStopPoll = std::chrono::milliseconds(100);

uint64_t Mib(uint64_t bytes) { return (bytes + (1 << 20) - 1) >> 20; }

}  // namespace

MemoryBudget::Lease::Lease(Lease&& o) noexcept
    : budget_(std::exchange(o.budget_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

MemoryBudget::Lease& MemoryBudget::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    if (budget_ != nullptr) budget_->Release(bytes_);
    budget_ = std::exchange(o.budget_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

MemoryBudget::Lease::~Lease() {
  if (budget_ != nullptr) budget_->Release(bytes_);
}

MemoryBudget::MemoryBudget(uint64_t capacity, std::string flag)
    : capacity_(capacity), flag_(std::move(flag)) {}

Result<MemoryBudget::Lease> MemoryBudget::Acquire(uint64_t bytes, const std::string& what,
                                                  const JobControl& control) {
  if (bytes > capacity_) {
    return Status::ResourceExhausted(fmt::format(
        "{} needs {} MiB of memory, more than the {} MiB this server allows for it at once "
        "(an administrator can raise {})",
        what, Mib(bytes), Mib(capacity_), flag_));
  }
  std::unique_lock lock(mu_);
  const uint64_t ticket = next_ticket_++;
  for (;;) {
    if (ticket == serving_ && in_use_ + bytes <= capacity_) break;
    if (control.StopRequested()) {
      // Give up the turn without blocking those behind: a later ticket is
      // served once this one is skipped.
      if (ticket == serving_) {
        ++serving_;
        freed_.notify_all();
      } else {
        abandoned_.push_back(ticket);
      }
      return StopStatus();
    }
    freed_.wait_for(lock, kStopPoll);
    SkipAbandoned();
  }
  in_use_ += bytes;
  ++serving_;
  SkipAbandoned();
  freed_.notify_all();
  return Lease(this, bytes);
}

void MemoryBudget::SkipAbandoned() {
  for (bool skipped = true; skipped;) {
    skipped = false;
    for (auto it = abandoned_.begin(); it != abandoned_.end(); ++it) {
      if (*it == serving_) {
        abandoned_.erase(it);
        ++serving_;
        skipped = true;
        break;
      }
    }
  }
}

uint64_t MemoryBudget::in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

void MemoryBudget::Release(uint64_t bytes) {
  {
    std::lock_guard lock(mu_);
    in_use_ -= bytes;
  }
  freed_.notify_all();
}

}  // namespace ferry::jobs
