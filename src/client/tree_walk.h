// The trees a recursive transfer or a sync works on, listed once: every
// directory and regular file beneath a root, local or remote, with its size
// and modification time. Symlinks are never followed out of the tree.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "client/connection.h"
#include "core/status.h"

namespace ferry {

struct TreeNode {
  bool dir = false;
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// Relative path ('/'-separated) -> node, the root left out. Sorted, so a
// directory comes before everything in it.
using Tree = std::map<std::string, TreeNode>;

// "a" + "b/c" -> "a/b/c"; an empty `dir` gives `rel`.
std::string JoinTree(const std::string& dir, const std::string& rel);

// Every name is checked before anything moves (ValidateName): a transfer that
// stopped at a refused name midway would leave half a tree. A refusal is one
// INVALID_ARGUMENT line (RefusedNames) that begins with `nothing_done`
// ("sync changed nothing").
Result<Tree> LocalTree(const std::string& root, const std::string& nothing_done);
// The remote tree under directory `root`, one List call per directory; names
// come from the server and are checked the same way before any is written.
Result<Tree> RemoteTree(Connection& conn, const std::string& root, const std::string& nothing_done);

}  // namespace ferry
