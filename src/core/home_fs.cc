#include "core/home_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "core/display_text.h"

namespace ferry {
namespace {

constexpr uint64_t kResolveFlags =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kFile;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  return FileType::kOther;
}

FileInfo InfoFrom(const std::string& name, const struct stat& st) {
  FileInfo info;
  info.name = name;
  info.type = TypeOf(st.st_mode);
  info.size = st.st_size;
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  info.mode = st.st_mode & 07777;
  info.inode = st.st_ino;
  return info;
}

// Deeper trees are refused rather than risk running out of stack or fds.
constexpr int kMaxRemoveDepth = 512;

// The entries of directory `dirfd` other than "." and "..", each with what
// lstat says of it; an entry removed while the directory is read drops out.
// Reads through a duplicate of the descriptor, so `dirfd` stays usable.
Result<std::vector<std::pair<std::string, struct stat>>> ReadEntries(int dirfd,
                                                                     const std::string& display) {
  int dup_fd = ::dup(dirfd);
  if (dup_fd < 0) return ErrnoStatus(errno, "dup");
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    ::close(dup_fd);
    return PathError(errno, display);
  }
  std::vector<std::pair<std::string, struct stat>> entries;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    entries.emplace_back(std::move(name), st);
  }
  ::closedir(dir);
  return entries;
}

// Removes every entry inside the open directory `dirfd`, depth first.
Status RemoveContents(int dirfd, const std::string& display, int depth = 0) {
  if (depth > kMaxRemoveDepth) {
    return Status::FailedPrecondition(
        fmt::format("'{}' is nested too deeply to remove in one go", display));
  }
  auto entries = ReadEntries(dirfd, display);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, st] : *entries) {
    const bool is_dir = S_ISDIR(st.st_mode);
    std::string child = display == "/" ? "/" + name : display + "/" + name;
    if (is_dir) {
      int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return PathError(errno, child);
      UniqueFd sub(fd);
      FERRY_RETURN_IF_ERROR(RemoveContents(sub.get(), child, depth + 1));
    }
    if (::unlinkat(dirfd, name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) {
      return PathError(errno, child);
    }
  }
  return Status::Ok();
}

// Adds the bytes of the regular files and symlinks inside `dirfd` to *total.
Status AddUsage(int dirfd, const std::string& display, int64_t* total, int depth = 0) {
  if (depth > kMaxRemoveDepth) {
    return Status::FailedPrecondition(fmt::format("'{}' is nested too deeply to measure", display));
  }
  auto entries = ReadEntries(dirfd, display);
  if (!entries.ok()) return entries.status();
  std::vector<std::string> subdirs;
  for (const auto& [name, st] : *entries) {
    if (S_ISDIR(st.st_mode)) {
      subdirs.push_back(name);
    } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
      *total += st.st_size;
    }
  }
  for (const auto& name : subdirs) {
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;  // removed or replaced meanwhile
    UniqueFd sub(fd);
    FERRY_RETURN_IF_ERROR(
        AddUsage(sub.get(), display == "/" ? "/" + name : display + "/" + name, total, depth + 1));
  }
  return Status::Ok();
}

// True if symlink text `target`, read in a directory `depth` levels below the
// root, names something beneath the root: it is relative and its ".." never
// climb above the root. Purely lexical; what the link resolves to today does
// not matter.
bool LinkStaysBeneath(std::string_view target, size_t depth) {
  if (target.empty() || target.front() == '/') return false;
  int64_t level = static_cast<int64_t>(depth);
  for (size_t start = 0; start <= target.size();) {
    size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    std::string_view part = target.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    level += part == ".." ? -1 : 1;
    if (level < 0) return false;
  }
  return true;
}

// The text of symlink `name` in `dirfd`.
Result<std::string> ReadLink(int dirfd, const char* name, const std::string& display) {
  std::string buf(4096, '\0');
  ssize_t n = ::readlinkat(dirfd, name, buf.data(), buf.size());
  if (n < 0) return PathError(errno, display);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Status LinkEscapes(const std::string& link, const std::string& target, const std::string& where) {
  return Status::PermissionDenied(
      fmt::format("'{}' is a symbolic link to '{}', which would point outside your home from '{}'; "
                  "ferry does not move such links there",
                  link, ForDisplay(target), where));
}

// Checks every symlink inside directory `dirfd` (shown as `display`, to be
// moved to `new_display`, `depth` levels below the root) the way
// LinkStaysBeneath does for its place after the move.
Status CheckLinksForMove(int dirfd, const std::string& display, const std::string& new_display,
                         size_t depth, int nesting = 0) {
  if (nesting > kMaxRemoveDepth) {
    return Status::FailedPrecondition(fmt::format("'{}' is nested too deeply to move", display));
  }
  auto entries = ReadEntries(dirfd, display);
  if (!entries.ok()) return entries.status();
  for (const auto& [name, st] : *entries) {
    if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
    std::string child = display + "/" + name, new_child = new_display + "/" + name;
    if (!S_ISDIR(st.st_mode)) {
      auto target = ReadLink(dirfd, name.c_str(), child);
      if (!target.ok()) return target.status();
      if (!LinkStaysBeneath(*target, depth)) return LinkEscapes(child, *target, new_child);
      continue;
    }
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return PathError(errno, child);
    UniqueFd sub(fd);
    FERRY_RETURN_IF_ERROR(CheckLinksForMove(sub.get(), child, new_child, depth + 1, nesting + 1));
  }
  return Status::Ok();
}

}  // namespace

Status PathError(int err, const std::string& display) {
  switch (err) {
    case ENOENT:
      return Status::NotFound(fmt::format("'{}' does not exist", display));
    case EEXIST:
      return Status::AlreadyExists(fmt::format("'{}' already exists", display));
    case ELOOP:
      return Status::PermissionDenied(
          fmt::format("'{}' goes through a symbolic link, which ferry never follows", display));
    case EXDEV:
      return Status::PermissionDenied(fmt::format("'{}' leads outside your home", display));
    case ENOTDIR:
      return Status::FailedPrecondition(
          fmt::format("a parent of '{}' is not a directory", display));
    case EISDIR:
      return Status::FailedPrecondition(fmt::format("'{}' is a directory", display));
    case ENOTEMPTY:
      return Status::FailedPrecondition(fmt::format(
          "directory '{}' is not empty (use -r to remove it and its contents)", display));
    case ENAMETOOLONG:
      return Status::InvalidArgument(fmt::format("'{}' is too long", display));
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(fmt::format("'{}': permission denied", display));
    case ENOSPC:
    case EDQUOT:
      return Status::ResourceExhausted(
          fmt::format("no space left on the server for '{}'; free some space or ask the server's "
                      "administrator",
                      display));
    default:
      return ErrnoStatus(err, fmt::format("'{}'", display));
  }
}

Result<UniqueFd> OpenBeneath(int dirfd, const std::string& relative, int flags, mode_t mode,
                             const std::string& display) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = kResolveFlags;
  // EAGAIN means a concurrent rename raced the lookup; retry a few times only,
  // so a stream of renames cannot keep a server thread spinning.
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, dirfd, relative.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno == EINTR || (errno == EAGAIN && attempt < 16)) continue;
    if (errno == EAGAIN) {
      return Status::Unavailable(
          fmt::format("'{}' kept changing while it was being opened; try again", display));
    }
    return PathError(errno, display);
  }
}

Status SyncDirectory(int dirfd) {
  if (::fsync(dirfd) != 0) return ErrnoStatus(errno, "fsync of directory");
  return Status::Ok();
}

Result<HomeFs> HomeFs::Open(const std::string& root, bool create) {
  if (create && ::mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, fmt::format("cannot create directory '{}'", root));
  }
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, fmt::format("cannot open directory '{}'", root));
  return HomeFs(root, UniqueFd(fd));
}

Result<UniqueFd> HomeFs::OpenDirectory(const RelPath& path) const {
  return OpenBeneath(root_.get(), path.Relative(), O_RDONLY | O_DIRECTORY, 0, path.Display());
}

Result<DirEntry> HomeFs::OpenParent(const RelPath& path) const {
  if (path.IsRoot()) return Status::InvalidArgument("this needs a path below your home");
  auto dir = OpenDirectory(path.Parent());
  if (!dir.ok()) return dir.status();
  return DirEntry{std::move(dir).value(), path.Leaf()};
}

Result<FileInfo> HomeFs::Stat(const RelPath& path) const {
  struct stat st {};
  if (path.IsRoot()) {
    if (::fstat(root_.get(), &st) != 0) return PathError(errno, "/");
    return InfoFrom("/", st);
  }
  auto parent = OpenParent(path);
  if (!parent.ok()) return parent.status();
  if (::fstatat(parent->dir.get(), parent->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return PathError(errno, path.Display());
  }
  return InfoFrom(parent->leaf, st);
}

Result<std::vector<FileInfo>> HomeFs::List(const RelPath& path) const {
  auto dirfd = OpenDirectory(path);
  if (!dirfd.ok()) return dirfd.status();
  // An entry removed while the directory is read simply drops out of the listing.
  auto entries = ReadEntries(dirfd->get(), path.Display());
  if (!entries.ok()) return entries.status();
  std::vector<FileInfo> out;
  out.reserve(entries->size());
  for (const auto& [name, st] : *entries) out.push_back(InfoFrom(name, st));
  std::sort(out.begin(), out.end(),
            [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
  return out;
}

Status HomeFs::MakeDirectory(const RelPath& path, bool parents) const {
  if (path.IsRoot()) {
    if (parents) return Status::Ok();
    return Status::AlreadyExists("'/' already exists");
  }
  if (!parents) {
    auto parent = OpenParent(path);
    if (!parent.ok()) return parent.status();
    if (::mkdirat(parent->dir.get(), parent->leaf.c_str(), 0755) != 0) {
      return PathError(errno, path.Display());
    }
    return Status::Ok();
  }
  RelPath done;
  UniqueFd cur(::dup(root_.get()));
  if (!cur.valid()) return ErrnoStatus(errno, "dup");
  for (const auto& part : path.parts()) {
    done = done.Child(part);
    if (::mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
      return PathError(errno, done.Display());
    }
    auto next = OpenBeneath(cur.get(), part, O_RDONLY | O_DIRECTORY, 0, done.Display());
    if (!next.ok()) {
      if (next.status().code() == Code::kFailedPrecondition ||
          next.status().code() == Code::kInternal) {
        return Status::AlreadyExists(
            fmt::format("'{}' exists and is not a directory", done.Display()));
      }
      return next.status();
    }
    cur = std::move(next).value();
  }
  return Status::Ok();
}

Status HomeFs::Touch(const RelPath& path) const {
  auto parent = OpenParent(path);
  if (!parent.ok()) return parent.status();
  int fd = ::openat(parent->dir.get(), parent->leaf.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return PathError(errno, path.Display());
  ::close(fd);
  return Status::Ok();
}

Status HomeFs::Remove(const RelPath& path, bool recursive) const {
  if (path.IsRoot())
    return Status::PermissionDenied("your home directory itself cannot be removed");
  auto parent = OpenParent(path);
  if (!parent.ok()) return parent.status();
  int dfd = parent->dir.get();
  const char* leaf = parent->leaf.c_str();
  struct stat st {};
  if (::fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) return PathError(errno, path.Display());
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dfd, leaf, 0) != 0) return PathError(errno, path.Display());
    return Status::Ok();
  }
  if (recursive) {
    int fd = ::openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return PathError(errno, path.Display());
    UniqueFd sub(fd);
    FERRY_RETURN_IF_ERROR(RemoveContents(sub.get(), path.Display()));
  }
  if (::unlinkat(dfd, leaf, AT_REMOVEDIR) != 0) return PathError(errno, path.Display());
  return Status::Ok();
}

Status HomeFs::Rename(const RelPath& from, const RelPath& to, bool overwrite) const {
  if (from.IsRoot() || to.IsRoot()) {
    return Status::InvalidArgument("your home directory itself cannot be renamed or replaced");
  }
  if (to.IsWithin(from)) {
    return Status::InvalidArgument(
        fmt::format("cannot move '{}' into itself ('{}')", from.Display(), to.Display()));
  }
  auto src = OpenParent(from);
  if (!src.ok()) return src.status();
  auto dst = OpenParent(to);
  if (!dst.ok()) return dst.status();
  struct stat st {};
  if (::fstatat(src->dir.get(), src->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return PathError(errno, from.Display());
  }
  // A relative link means something else from another place: none may come
  // to point outside the home. Moving a directory deeper keeps its links'
  // ".." within reach, so only a move that is not deeper walks the tree.
  size_t new_depth = to.parts().size() - 1;
  if (S_ISLNK(st.st_mode)) {
    auto target = ReadLink(src->dir.get(), src->leaf.c_str(), from.Display());
    if (!target.ok()) return target.status();
    if (!LinkStaysBeneath(*target, new_depth)) {
      return LinkEscapes(from.Display(), *target, to.Display());
    }
  } else if (S_ISDIR(st.st_mode) && new_depth <= from.parts().size() - 1) {
    int fd = ::openat(src->dir.get(), src->leaf.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return PathError(errno, from.Display());
    UniqueFd moved(fd);
    FERRY_RETURN_IF_ERROR(
        CheckLinksForMove(moved.get(), from.Display(), to.Display(), new_depth + 1));
  }
  unsigned flags = overwrite ? 0 : RENAME_NOREPLACE;
  if (::renameat2(src->dir.get(), src->leaf.c_str(), dst->dir.get(), dst->leaf.c_str(), flags) !=
      0) {
    int err = errno;
    if (err == EEXIST || (err == ENOTEMPTY && overwrite)) {
      return Status::AlreadyExists(fmt::format(
          "'{}' already exists{}", to.Display(),
          overwrite ? " and is a non-empty directory" : " (use --force to replace it)"));
    }
    return PathError(err, err == ENOENT ? to.Parent().Display() : to.Display());
  }
  return Status::Ok();
}

Result<int64_t> HomeFs::DiskUsage(const RelPath& path) const {
  auto info = Stat(path);
  if (!info.ok()) return info.status();
  if (info->type != FileType::kDirectory) {
    return info->type == FileType::kOther ? 0 : info->size;
  }
  auto dir = OpenDirectory(path);
  if (!dir.ok()) return dir.status();
  int64_t total = 0;
  FERRY_RETURN_IF_ERROR(AddUsage(dir->get(), path.Display(), &total));
  return total;
}

Result<OpenFile> HomeFs::OpenForRead(const RelPath& path) const {
  if (path.IsRoot()) return Status::FailedPrecondition("'/' is a directory");
  auto fd = OpenBeneath(root_.get(), path.Relative(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0,
                        path.Display());
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return PathError(errno, path.Display());
  if (S_ISDIR(st.st_mode)) {
    return Status::FailedPrecondition(fmt::format("'{}' is a directory", path.Display()));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition(fmt::format("'{}' is not a regular file", path.Display()));
  }
  return OpenFile{std::move(fd).value(), InfoFrom(path.Leaf(), st)};
}

}  // namespace ferry
