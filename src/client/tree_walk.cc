#include "client/tree_walk.h"

#include <sys/stat.h>

#include <filesystem>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "client/file_client.h"
#include "client/tree_names.h"
#include "core/rel_path.h"

namespace ferry {

std::string JoinTree(const std::string& dir, const std::string& rel) {
  return dir.empty() ? rel : dir + "/" + rel;
}

Result<Tree> LocalTree(const std::string& root, const std::string& nothing_done) {
  namespace fs = std::filesystem;
  RefusedNames refused;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(root, ec))) {
    return Status::NotFound(fmt::format("'{}' is not a local directory", root));
  }
  Tree tree;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink()) continue;  // never follow links out of the tree being sent
    bool dir = it->is_directory();
    if (!dir && !it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), root, ec).generic_string();
    if (Status s = ValidateName(it->path().filename().string()); !s.ok()) {
      refused.Add(it->path().string(), s.message());
      continue;
    }
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;  // vanished meanwhile
    tree[rel] = {dir, st.st_size,
                 static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
  }
  if (ec) return Status::Internal(fmt::format("cannot read '{}': {}", root, ec.message()));
  FERRY_RETURN_IF_ERROR(refused.ToStatus(nothing_done, "not allowed on the server"));
  return tree;
}

Result<Tree> RemoteTree(Connection& conn, const std::string& root,
                        const std::string& nothing_done) {
  RefusedNames refused;
  Tree tree;
  std::vector<std::string> pending = {""};
  while (!pending.empty()) {
    std::string rel_dir = std::move(pending.back());
    pending.pop_back();
    auto entries = ListRemote(conn, JoinTree(root, rel_dir));
    if (!entries.ok()) return entries.status();
    for (const auto& e : *entries) {
      std::string rel = JoinTree(rel_dir, e.name());
      // Names come from the server: never let one steer a write out of the tree.
      if (Status s = ValidateName(e.name()); !s.ok()) {
        refused.Add(JoinTree(root, rel), s.message());
        continue;
      }
      bool dir = e.type() == v1::FILE_TYPE_DIRECTORY;
      if (!dir && e.type() != v1::FILE_TYPE_FILE) continue;
      tree[rel] = {dir, e.size(), e.mtime_ns()};
      if (dir) pending.push_back(rel);
    }
  }
  FERRY_RETURN_IF_ERROR(refused.ToStatus(nothing_done, "not safe to write here"));
  return tree;
}

}  // namespace ferry
