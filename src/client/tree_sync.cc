#include "client/tree_sync.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "client/tree_transfer.h"
#include "client/tree_walk.h"
#include "core/display_text.h"
#include "core/rel_path.h"
#include "core/unique_fd.h"
#include "transfer/file_io.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

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
Result<std::string> Difference(const std::string& rel, const TreeNode& from, const TreeNode& to,
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

// The files `rels` of the source tree `from`, with both their places.
std::vector<TreeFile> Files(const Tree& from, const std::vector<std::string>& rels,
                            const std::string& local, const std::string& remote) {
  std::vector<TreeFile> files;
  for (const auto& rel : rels) {
    files.push_back({local + "/" + rel, JoinTree(remote, rel), from.at(rel).size});
  }
  return files;
}

// Plans, then (unless a dry run) deletes, makes directories and sends, in
// that order; `send` moves the files (relative paths) from the source to the
// destination.
Result<SyncSummary> Sync(const Tree& from, const Tree& to, const SyncOptions& options,
                         const Side& source, const Side& dest,
                         const std::function<Status(const std::vector<std::string>&)>& send) {
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
  std::vector<std::string> rels;
  for (const auto& s : sends) {
    report(fmt::format("send {} ({})", ForDisplay(s.rel), s.why));
    rels.push_back(s.rel);
    summary.files_sent++;
    summary.bytes_sent += s.size;
  }
  if (!options.dry_run && !rels.empty()) FERRY_RETURN_IF_ERROR(send(rels));
  return summary;
}

Side RemoteSide(Connection& conn, const std::string& root) {
  Side side;
  side.sha256 = [&conn, root](const std::string& rel) -> Result<std::string> {
    auto st = StatRemote(conn, JoinTree(root, rel), true);
    if (!st.ok()) return st.status();
    return st->sha256();
  };
  side.make_directory = [&conn, root](const std::string& rel) {
    return MakeRemoteDirectory(conn, JoinTree(root, rel), true);
  };
  side.remove = [&conn, root](const std::string& rel, bool dir) {
    return RemoveRemote(conn, JoinTree(root, rel), dir);
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
  auto from = LocalTree(local, "sync changed nothing");
  if (!from.ok()) return from.status();
  Tree to;
  auto root = StatRemote(conn, remote, false);
  if (root.ok()) {
    if (root->entry().type() != v1::FILE_TYPE_DIRECTORY) {
      return Status::FailedPrecondition(fmt::format("'{}' is not a remote directory", remote));
    }
    auto tree = RemoteTree(conn, remote, "sync changed nothing");
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
              [&](const std::vector<std::string>& rels) {
                return UploadFiles(conn, Files(*from, rels, local, remote), transfer, remote);
              });
}

Result<SyncSummary> SyncDown(Connection& conn, const std::string& remote, const std::string& local,
                             const SyncOptions& options) {
  auto root = StatRemote(conn, remote, false);
  if (!root.ok()) return root.status();
  if (root->entry().type() != v1::FILE_TYPE_DIRECTORY) {
    return Status::FailedPrecondition(fmt::format("'{}' is not a remote directory", remote));
  }
  auto from = RemoteTree(conn, remote, "sync changed nothing");
  if (!from.ok()) return from.status();
  Tree to;
  std::error_code ec;
  auto status = fs::symlink_status(local, ec);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) {
      return Status::FailedPrecondition(fmt::format("'{}' is not a local directory", local));
    }
    auto tree = LocalTree(local, "sync changed nothing");
    if (!tree.ok()) return tree.status();
    to = std::move(tree).value();
  } else if (!options.dry_run) {
    fs::create_directories(local, ec);
    if (ec) return Status::Internal(fmt::format("cannot create '{}': {}", local, ec.message()));
  }
  TransferOptions transfer = options.transfer;
  transfer.overwrite = true;
  return Sync(*from, to, options, RemoteSide(conn, remote), LocalSide(local),
              [&](const std::vector<std::string>& rels) {
                return DownloadFiles(conn, Files(*from, rels, local, remote), transfer, remote);
              });
}

}  // namespace ferry
