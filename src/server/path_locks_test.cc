#include "server/path_locks.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ferry {
namespace {

using namespace std::chrono_literals;

RelPath P(const char* s) { return *RelPath::Parse(s); }

TEST(PathLocksTest, ReadersShareWritersExclude) {
  PathLocks locks;
  auto r1 = locks.Read("u", P("a/b"));
  auto r2 = locks.Read("u", P("a/b"));  // would deadlock if readers excluded each other
  std::atomic<bool> wrote{false};
  std::thread writer([&] {
    auto w = locks.Write("u", P("a/b"));
    wrote = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(wrote);
  { auto drop1 = std::move(r1); }
  { auto drop2 = std::move(r2); }
  writer.join();
  EXPECT_TRUE(wrote);
  EXPECT_EQ(locks.ActiveKeys(), 0u);
}

TEST(PathLocksTest, WritingADirectoryWaitsForWorkInsideIt) {
  PathLocks locks;
  auto inner = locks.Read("u", P("dir/file"));
  std::atomic<bool> removed{false};
  std::thread remover([&] {
    auto w = locks.Write("u", P("dir"));
    removed = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(removed);
  { auto drop = std::move(inner); }
  remover.join();
  EXPECT_TRUE(removed);
}

TEST(PathLocksTest, UsersAndSiblingsDoNotContend) {
  PathLocks locks;
  auto a = locks.Write("alice", P("x"));
  auto b = locks.Write("bob", P("x"));
  auto c = locks.Write("alice", P("y"));
  SUCCEED();
}

TEST(PathLocksTest, OppositeRenamesDoNotDeadlock) {
  PathLocks locks;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto held = (t % 2) ? locks.Lock("u", {{P("a/x"), true}, {P("b/y"), true}})
                            : locks.Lock("u", {{P("b/y"), true}, {P("a/x"), true}});
      }
      done++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(done, 8);
  EXPECT_EQ(locks.ActiveKeys(), 0u);
}

}  // namespace
}  // namespace ferry
