#include "core/usable_cpus.h"

#include <sched.h>

#include <thread>

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(UsableCpusTest, FollowsTheAffinityMaskRatherThanTheMachine) {
  int before = 0, narrowed = 0;
  // On a thread of its own: narrowing its mask leaves the test's others alone.
  std::thread([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    before = UsableCpus();
    int first = 0;
    while (!CPU_ISSET(first, &set)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    narrowed = UsableCpus();
  }).join();
  EXPECT_GE(before, 1);
  EXPECT_EQ(narrowed, 1);
}

}  // namespace
}  // namespace ferry
