#include "core/writer_first_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace ferry {
namespace {

using namespace std::chrono_literals;

// Readers that keep overlapping (each takes the lock again at once, while
// others still hold it) never leave the lock free; a writer still gets in.
TEST(WriterFirstMutexTest, AWriterGetsInWhileReadersKeepOverlapping) {
  WriterFirstMutex mu;
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  // The readers give up after 3 s at most, so that a lock that lets them
  // starve the writer fails this test instead of hanging it.
  const auto give_up = std::chrono::steady_clock::now() + 3s;
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&, i] {
      std::this_thread::sleep_for(std::chrono::microseconds(250 * i));  // staggered
      while (!stop && std::chrono::steady_clock::now() < give_up) {
        std::shared_lock lock(mu);
        ++reads;
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  while (reads < 20) std::this_thread::sleep_for(1ms);
  auto start = std::chrono::steady_clock::now();
  {
    std::unique_lock lock(mu);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  }
  stop = true;
  for (auto& t : readers) t.join();
}

TEST(WriterFirstMutexTest, ExcludesWritersFromEachOtherAndFromReaders) {
  WriterFirstMutex mu;
  int value = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int n = 0; n < 10000; ++n) {
        std::unique_lock lock(mu);
        ++value;
      }
    });
  }
  threads.emplace_back([&] {
    for (int n = 0; n < 10000; ++n) {
      std::shared_lock lock(mu);
      EXPECT_GE(value, 0);
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(value, 40000);
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock_shared());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock_shared();
}

}  // namespace
}  // namespace ferry
