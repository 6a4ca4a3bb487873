#include "directory/fair_gate.h"

#include "core/usable_cpus.h"

namespace ferry {

FairGate::FairGate(int slots) : slots_(slots >= 1 ? slots : UsableCpus()) {}

FairGate::Pass FairGate::Enter() {
  std::unique_lock lock(mu_);
  if (queue_.empty() && inside_ < slots_) {
    ++inside_;
    return Pass(this, false);
  }
  Waiter me;
  queue_.push_back(&me);
  me.turn.wait(lock, [&] { return me.admitted; });
  return Pass(this, true);  // the slot was handed over: inside_ already counts it
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
