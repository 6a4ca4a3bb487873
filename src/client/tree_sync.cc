#include "client/tree_sync.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "client/tree_names.h"
#include "core/display_text.h"
#include "core/rel_path.h"
#include "core/unique_fd.h"
#include "transfer/file_io.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

struct Node {
  bool dir = false;
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// Relative path -> node, the root left out. Sorted, so a directory comes
// before everything in it.
using Tree = std::map<std::string, Node>;

std::string Join(const std::string& dir, const std::string& rel) {
  return dir.empty() ? rel : dir + "/" + rel;
}

// Every name is checked before anything moves: the server refuses some names
// (control characters, invalid UTF-8), and a sync that stopped at one midway
// would leave half a tree.
Result<Tree> LocalTree(const std::string& root) {
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
  FERRY_RETURN_IF_ERROR(refused.ToStatus("sync changed nothing", "not allowed on the server"));
  return tree;
}

Result<Tree> RemoteTree(Connection& conn, const std::string& root) {
  RefusedNames refused;
  Tree tree;
  std::vector<std::string> pending = {""};
  while (!pending.empty()) {
    std::string rel_dir = std::move(pending.back());
    pending.pop_back();
    auto entries = ListRemote(conn, Join(root, rel_dir));
    if (!entries.ok()) return entries.status();
    for (const auto& e : *entries) {
      std::string rel = Join(rel_dir, e.name());
      // Names come from the server: never let one steer a write out of the tree.
      if (Status s = ValidateName(e.name()); !s.ok()) {
        refused.Add(Join(root, rel), s.message());
        continue;
      }
      bool dir = e.type() == v1::FILE_TYPE_DIRECTORY;
      if (!dir && e.type() != v1::FILE_TYPE_FILE) continue;
      tree[rel] = {dir, e.size(), e.mtime_ns()};
      if (dir) pending.push_back(rel);
    }
  }
  FERRY_RETURN_IF_ERROR(refused.ToStatus("sync changed nothing", "not safe to write here"));
  return tree;
}

Result<std::string> LocalSha256(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, fmt::format("cannot open '{}'", path));
  return Sha256OfFd(fd.get());
}

// One side of a sync: how to look at it and change it.
struct Side {
  std::function<Result<std::string>(const std::string&)> sha256;
  std::function<Status(const std::string&)> make_directory;
  std::function<Status(const std::string&, bool)> remove;  // (rel, is a directory)
};

// Why the destination's file must be replaced by the source's, or "" if not.
Result<std::string> Difference(const std::string& rel, const Node& from, const Node& to,
                               const SyncOptions& options, const Side& source, const Side& dest) {
  if (from.size != to.size) return std::string("size differs");
  if (!options.checksum) {
    return from.mtime_ns != to.mtime_ns ? std::string("modified") : std::string();
  }
  auto a = source.sha256(rel);
  if (!a.ok()) return a.status();
  auto b = dest.sha256(rel);
  if (!b.ok()) return b.status();
  return *a != *b ? std::string("content differs") : std::string();
}

// Plans, then (unless a dry run) deletes, makes directories and sends, in
// that order; `send` moves one file from the source to the destination.
Result<SyncSummary> Sync(const Tree& from, const Tree& to, const SyncOptions& options,
                         const Side& source, const Side& dest,
                         const std::function<Status(const std::string&)>& send) {
  auto report = [&](const std::string& line) {
    if (options.report) options.report((options.dry_run ? "would " : "") + line);
  };
  struct Send {
    std::string rel, why;
    int64_t size;
  };
  std::vector<std::string> mkdirs, deletes;
  std::vector<Send> sends;
  SyncSummary summary;
  for (const auto& [rel, node] : from) {
    auto there = to.find(rel);
    if (there == to.end()) {
      if (node.dir) {
        mkdirs.push_back(rel);
      } else {
        sends.push_back({rel, "new", node.size});
      }
      continue;
    }
    if (node.dir != there->second.dir) {
      return Status::FailedPrecondition(fmt::format(
          "'{}' is a {} in the source and a {} in the destination; move one of them, nothing "
          "was changed",
          ForDisplay(rel), node.dir ? "directory" : "file", node.dir ? "file" : "directory"));
    }
    if (node.dir) continue;
    auto why = Difference(rel, node, there->second, options, source, dest);
    if (!why.ok()) return why.status();
    if (why->empty()) {
      summary.unchanged++;
    } else {
      sends.push_back({rel, *why, node.size});
    }
  }
  if (options.delete_extra) {
    std::string removed_dir;  // everything beneath it goes with it
    for (const auto& [rel, node] : to) {
      if (from.count(rel) != 0) continue;
      if (!removed_dir.empty() && rel.rfind(removed_dir + "/", 0) == 0) continue;
      deletes.push_back(rel);
      if (node.dir) removed_dir = rel;
    }
  }

  for (const auto& rel : deletes) {
    bool dir = to.at(rel).dir;
    report(fmt::format("delete {}{}", ForDisplay(rel), dir ? "/" : ""));
    if (!options.dry_run) FERRY_RETURN_IF_ERROR(dest.remove(rel, dir));
    summary.deleted++;
  }
  for (const auto& rel : mkdirs) {
    report(fmt::format("make {}/", ForDisplay(rel)));
    if (!options.dry_run) FERRY_RETURN_IF_ERROR(dest.make_directory(rel));
    summary.directories_made++;
  }
  for (const auto& s : sends) {
    report(fmt::format("send {} ({})", ForDisplay(s.rel), s.why));
    if (!options.dry_run) FERRY_RETURN_IF_ERROR(send(s.rel));
    summary.files_sent++;
    summary.bytes_sent += s.size;
  }
  return summary;
}

Side RemoteSide(Connection& conn, const std::string& root) {
  Side side;
  side.sha256 = [&conn, root](const std::string& rel) -> Result<std::string> {
    auto st = StatRemote(conn, Join(root, rel), true);
    if (!st.ok()) return st.status();
    return st->sha256();
  };
  side.make_directory = [&conn, root](const std::string& rel) {
    return MakeRemoteDirectory(conn, Join(root, rel), true);
  };
  side.remove = [&conn, root](const std::string& rel, bool dir) {
    return RemoveRemote(conn, Join(root, rel), dir);
  };
  return side;
}

Side LocalSide(const std::string& root) {
  Side side;
  side.sha256 = [root](const std::string& rel) { return LocalSha256(root + "/" + rel); };
  side.make_directory = [root](const std::string& rel) -> Status {
    std::string path = root + "/" + rel;
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, fmt::format("cannot create '{}'", path));
    }
    return Status::Ok();
  };
  side.remove = [root](const std::string& rel, bool) -> Status {
    std::error_code ec;
    fs::remove_all(root + "/" + rel, ec);
    if (ec) return Status::Internal(fmt::format("cannot remove '{}': {}", rel, ec.message()));
    return Status::Ok();
  };
  return side;
}

}  // namespace

Result<SyncSummary> SyncUp(Connection& conn, const std::string& local, const std::string& remote,
                           const SyncOptions& options) {
  auto from = LocalTree(local);
  if (!from.ok()) return from.status();
  Tree to;
  auto root = StatRemote(conn, remote, false);
  if (root.ok()) {
    if (root->entry().type() != v1::FILE_TYPE_DIRECTORY) {
      return Status::FailedPrecondition(fmt::format("'{}' is not a remote directory", remote));
    }
    auto tree = RemoteTree(conn, remote);
    if (!tree.ok()) return tree.status();
    to = std::move(tree).value();
  } else if (root.status().code() != Code::kNotFound) {
    return root.status();
  } else if (!options.dry_run) {
    FERRY_RETURN_IF_ERROR(MakeRemoteDirectory(conn, remote, true));
  }
  TransferOptions transfer = options.transfer;
  transfer.overwrite = true;
  return Sync(*from, to, options, LocalSide(local), RemoteSide(conn, remote),
              [&](const std::string& rel) {
                return UploadFile(conn, local + "/" + rel, Join(remote, rel), transfer);
              });
}

Result<SyncSummary> SyncDown(Connection& conn, const std::string& remote, const std::string& local,
                             const SyncOptions& options) {
  auto root = StatRemote(conn, remote, false);
  if (!root.ok()) return root.status();
  if (root->entry().type() != v1::FILE_TYPE_DIRECTORY) {
    return Status::FailedPrecondition(fmt::format("'{}' is not a remote directory", remote));
  }
  auto from = RemoteTree(conn, remote);
  if (!from.ok()) return from.status();
  Tree to;
  std::error_code ec;
  auto status = fs::symlink_status(local, ec);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) {
      return Status::FailedPrecondition(fmt::format("'{}' is not a local directory", local));
    }
    auto tree = LocalTree(local);
    if (!tree.ok()) return tree.status();
    to = std::move(tree).value();
  } else if (!options.dry_run) {
    fs::create_directories(local, ec);
    if (ec) return Status::Internal(fmt::format("cannot create '{}': {}", local, ec.message()));
  }
  TransferOptions transfer = options.transfer;
  transfer.overwrite = true;
  return Sync(*from, to, options, RemoteSide(conn, remote), LocalSide(local),
              [&](const std::string& rel) {
                return DownloadFile(conn, Join(remote, rel), local + "/" + rel, transfer);
              });
}

}  // namespace ferry
