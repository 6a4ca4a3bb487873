#include "directory/fair_gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace ferry {
namespace {

void WaitUntilWaiting(FairGate& gate, int n) {
  for (int i = 0; i < 5000 && gate.waiting() < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(gate.waiting(), n);
}

TEST(FairGateTest, CallersGoInTheOrderTheyArrived) {
  FairGate gate(1);
  std::optional<FairGate::Pass> first(gate.Enter());
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto pass = gate.Enter();
      std::lock_guard lock(mu);
      order.push_back(i);
    });
    WaitUntilWaiting(gate, i + 1);  // i+1 queued, in this order
  }
  first.reset();
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(gate.waiting(), 0);
}

TEST(FairGateTest, NeverMoreInsideThanSlots) {
  FairGate gate(3);
  ASSERT_EQ(gate.slots(), 3);
  std::atomic<int> inside{0}, most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto pass = gate.Enter();
        int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        --inside;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 2);  // and it does let several in at once
}

TEST(FairGateTest, NoSlotsMeansOnePerUsableCpu) {
  FairGate gate(0);
  EXPECT_GE(gate.slots(), 1);
  EXPECT_LE(gate.slots(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace ferry
