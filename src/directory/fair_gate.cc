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
  if (queue_.empty() && inside_ < slots_) {
    ++inside_;
    return Pass(this);
  }
  Waiter me;
  queue_.push_back(&me);
  me.turn.wait(lock, [&] { return me.admitted; });
  return Pass(this);  // the slot was handed over: inside_ already counts it
}

int FairGate::waiting() {
  std::lock_guard lock(mu_);
  return static_cast<int>(queue_.size());
}

void FairGate::Leave() {
  std::lock_guard lock(mu_);
  if (queue_.empty()) {
    --inside_;
    return;
  }
  // The slot goes straight to the longest waiter, and only that one wakes.
  // Notified under the lock: once it sees `admitted` the waiter may return
  // and take its condition variable with it.
  Waiter* next = queue_.front();
  queue_.pop_front();
  next->admitted = true;
  next->turn.notify_one();
}

}  // namespace ferry
