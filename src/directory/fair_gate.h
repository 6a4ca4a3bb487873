// Lets at most N callers through at once, in the order they arrived.
//
// Searches that miss the answer cache are CPU work (in SQLite, or in the
// PostgreSQL backend on the same machine). Run all at once, a burst of them
// shares the cores and every one of them finishes late; queued in arrival
// order with one per core running, the first finish early and only the last
// waits as long. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

namespace ferry {

class FairGate {
 public:
  // `slots` < 1 means one per CPU this process may run on.
  explicit FairGate(int slots);
  FairGate(const FairGate&) = delete;
  FairGate& operator=(const FairGate&) = delete;

  // Held while inside; leaving (destruction) lets the next caller in.
  class Pass {
   public:
    Pass(FairGate* gate, bool waited) : gate_(gate), waited_(waited) {}
    Pass(Pass&& other) noexcept : gate_(other.gate_), waited_(other.waited_) {
      other.gate_ = nullptr;
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    Pass& operator=(Pass&&) = delete;
    ~Pass() {
      if (gate_ != nullptr) gate_->Leave();
    }
    // Whether the caller queued behind others before going in.
    bool waited() const { return waited_; }

   private:
    FairGate* gate_;
    bool waited_;
  };

  // Blocks until every earlier caller has gone in and a slot is free.
  Pass Enter();
  int slots() const { return slots_; }
  // Callers blocked in Enter().
  int waiting();

 private:
  // A caller blocked in Enter(), on its own stack: each waiter has its own
  // condition variable, so a leaving caller wakes exactly the next one
  // instead of every waiter (32 queued searches were 32 wake-ups per search).
  struct Waiter {
    std::condition_variable turn;
    bool admitted = false;  // GUARDED_BY(mu_)
  };
  void Leave();

  const int slots_;
  std::mutex mu_;
  std::deque<Waiter*> queue_;  // in arrival order; GUARDED_BY(mu_)
  int inside_ = 0;             // GUARDED_BY(mu_)
};

}  // namespace ferry
