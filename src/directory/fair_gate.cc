#include "directory/fair_gate.h"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace ferry {
namespace {

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

FairGate::FairGate(int slots) : slots_(slots >= 1 ? slots : UsableCpus()) {}

FairGate::Pass FairGate::Enter() {
  std::unique_lock lock(mu_);
  const uint64_t ticket = next_ticket_++;
  changed_.wait(lock, [&] { return ticket == admitted_ && inside_ < slots_; });
  ++admitted_;
  ++inside_;
  // The next ticket may be able to go in too.
  changed_.notify_all();
  return Pass(this);
}

int FairGate::waiting() {
  std::lock_guard lock(mu_);
  return static_cast<int>(next_ticket_ - admitted_);
}

void FairGate::Leave() {
  {
    std::lock_guard lock(mu_);
    --inside_;
  }
  changed_.notify_all();
}

}  // namespace ferry
