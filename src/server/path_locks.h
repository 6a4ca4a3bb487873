// Reader/writer locks on paths in users' homes.
//
// An operation locks its target paths (shared to read, exclusive to change) and
// every ancestor of each target shared, so that changing a directory (rm -r,
// mv) waits for work inside it and blocks new work there. All locks of one
// operation are taken together in one global order, so operations never
// deadlock. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/rel_path.h"

namespace ferry {

class PathLocks {
 public:
  struct Target {
    RelPath path;
    bool exclusive;
  };

  // Holds a set of locks; releases them when destroyed.
  class Held {
   public:
    Held() = default;
    Held(Held&&) = default;
    // No move-assignment: it would have to release the target's locks first.
    Held& operator=(Held&&) = delete;
    Held(const Held&) = delete;
    ~Held();

   private:
    friend class PathLocks;
    struct One {
      std::string key;
      bool exclusive;
    };
    PathLocks* owner_ = nullptr;
    std::vector<One> held_;
  };

  // Blocks until every target (and its ancestors, shared) is locked.
  Held Lock(const std::string& user, const std::vector<Target>& targets);
  Held Read(const std::string& user, const RelPath& path) { return Lock(user, {{path, false}}); }
  Held Write(const std::string& user, const RelPath& path) { return Lock(user, {{path, true}}); }

  // Number of paths with a lock held or awaited (for tests).
  size_t ActiveKeys();

 private:
  struct Entry {
    std::shared_mutex mu;
    int users = 0;  // GUARDED_BY(PathLocks::mu_): holders and waiters
  };
  Entry* Acquire(const std::string& key);
  void Release(const std::string& key, bool exclusive);

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // GUARDED_BY(mu_)
};

}  // namespace ferry
