#include "jobs/memory_budget.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "jobs/job_control.h"

namespace ferry::jobs {
namespace {

using namespace std::chrono_literals;

TEST(MemoryBudgetTest, LeasesTakeAndReturnBytes) {
  MemoryBudget budget(100, "--flag");
  CountingJobControl control;
  {
    auto a = budget.Acquire(60, "a", control);
    ASSERT_TRUE(a.ok());
    auto b = budget.Acquire(40, "b", control);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(budget.in_use(), 100u);
    MemoryBudget::Lease moved = std::move(*a);
    EXPECT_EQ(moved.bytes(), 60u);
    EXPECT_EQ(budget.in_use(), 100u);
  }
  EXPECT_EQ(budget.in_use(), 0u);
}

TEST(MemoryBudgetTest, MoreThanTheWholeBudgetIsRefusedAtOnce) {
  MemoryBudget budget(3 << 20, "--scrypt-memory-mib");
  CountingJobControl control;
  auto lease = budget.Acquire((3 << 20) + 1, "scrypt with work factor 2^22", control);
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(lease.status().message(),
            "scrypt with work factor 2^22 needs 4 MiB of memory, more than the 3 MiB this server "
            "allows for it at once (an administrator can raise --scrypt-memory-mib)");
}

TEST(MemoryBudgetTest, AWaiterProceedsWhenBytesComeBack) {
  MemoryBudget budget(100, "--flag");
  CountingJobControl control;
  auto first = budget.Acquire(80, "first", control);
  ASSERT_TRUE(first.ok());
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto second = budget.Acquire(50, "second", control);
    EXPECT_TRUE(second.ok());
    got = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(got);
  *first = MemoryBudget::Lease();
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(budget.in_use(), 0u);
}

TEST(MemoryBudgetTest, WaitersAreServedInArrivalOrder) {
  MemoryBudget budget(100, "--flag");
  CountingJobControl control;
  auto holder = budget.Acquire(100, "holder", control);
  ASSERT_TRUE(holder.ok());
  std::vector<int> order;
  std::mutex mu;
  // A large request first, then a small one that would fit sooner: the small
  // one does not overtake, so large requests are never starved.
  std::thread large([&] {
    auto l = budget.Acquire(100, "large", control);
    std::lock_guard lock(mu);
    order.push_back(1);
  });
  std::this_thread::sleep_for(100ms);
  std::thread small([&] {
    auto s = budget.Acquire(10, "small", control);
    std::lock_guard lock(mu);
    order.push_back(2);
  });
  std::this_thread::sleep_for(100ms);
  *holder = MemoryBudget::Lease();
  large.join();
  small.join();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(MemoryBudgetTest, AStoppedWaiterGivesUpWithoutBlockingOthers) {
  MemoryBudget budget(100, "--flag");
  CountingJobControl control;
  auto holder = budget.Acquire(100, "holder", control);
  ASSERT_TRUE(holder.ok());
  CountingJobControl stopping;
  Status stopped;
  std::thread first([&] {
    auto l = budget.Acquire(100, "first", stopping);
    stopped = l.status();
  });
  std::this_thread::sleep_for(100ms);
  std::atomic<bool> second_got{false};
  std::thread second([&] {
    auto l = budget.Acquire(100, "second", control);
    second_got = l.ok();
  });
  std::this_thread::sleep_for(100ms);
  stopping.RequestStop();
  first.join();
  EXPECT_EQ(stopped.code(), Code::kCancelled);
  *holder = MemoryBudget::Lease();
  second.join();
  EXPECT_TRUE(second_got);
  EXPECT_EQ(budget.in_use(), 0u);
}

}  // namespace
}  // namespace ferry::jobs
