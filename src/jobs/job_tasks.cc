#include "jobs/job_tasks.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "core/home_fs.h"
#include "jobs/age.h"
#include "jobs/zip_archive.h"
#include "transfer/publish.h"

namespace ferry::jobs {
namespace {

constexpr size_t kMaxNameBytes = 255;

bool EndsWithNoCase(const std::string& s, std::string_view suffix) {
  if (s.size() <= suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i])
      return false;
  }
  return true;
}

// `name` with `suffix` removed, or with `fallback` appended when it has none.
std::string SwapSuffix(const std::string& name, std::string_view suffix,
                       std::string_view fallback) {
  if (EndsWithNoCase(name, suffix)) return name.substr(0, name.size() - suffix.size());
  return name + std::string(fallback);
}

Result<RelPath> ParseArgPath(const std::string& raw) {
  auto path = RelPath::Parse(raw);
  if (!path.ok()) return path.status();
  if (path->IsRoot()) {
    return Status::InvalidArgument("a job needs a file or directory, not your home itself");
  }
  return path;
}

Result<RelPath> DefaultOutput(JobKind kind, const std::vector<RelPath>& inputs) {
  const RelPath& first = inputs.front();
  std::string leaf;
  switch (kind) {
    case JobKind::kZip:
      leaf = inputs.size() == 1 ? first.Leaf() + ".zip" : "archive.zip";
      break;
    case JobKind::kUnzip:
      leaf = SwapSuffix(first.Leaf(), ".zip", ".unzipped");
      break;
    case JobKind::kEncrypt:
      leaf = first.Leaf() + ".age";
      break;
    case JobKind::kDecrypt:
      leaf = SwapSuffix(first.Leaf(), ".age", ".decrypted");
      break;
  }
  if (leaf.size() > kMaxNameBytes) {
    return Status::InvalidArgument("the output name would be too long; give one with --to");
  }
  return first.Parent().Child(leaf);
}

// The hidden name an attempt of job `id` works under, beside `leaf`.
std::string StagingName(const std::string& id, const std::string& leaf) {
  std::string name = fmt::format(".ferry-job-{}-{}", id, leaf);
  if (name.size() > kMaxNameBytes) name.resize(kMaxNameBytes);
  return name;
}

// Removes the staging file or tree at `path`, if there is one. HomeFs never
// follows a symlink, so whatever an earlier attempt left is removed in place.
Status RemoveStaging(const HomeFs& home, const RelPath& path) {
  Status s = home.Remove(path, /*recursive=*/true);
  return s.code() == Code::kNotFound ? Status::Ok() : s;
}

std::optional<struct stat> StatAt(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return st;
}

// Moves entry `name` of `from` to the same name in `to` (transfer/publish.h's
// Move: no fsync; the caller syncs `to`).
Status MoveEntry(int from, int to, const std::string& name, bool replace,
                 const std::string& display) {
  Published moved = Move({from, name, to, name, replace}, "cannot move " + display);
  if (moved.ok()) return Status::Ok();
  if (moved.error == EEXIST) {
    return Status::AlreadyExists(
        fmt::format("'{}' already exists; use --force to replace it", display));
  }
  return PathError(moved.error, display);
}

// The output's staging place: a hidden file or directory beside the output,
// removed unless committed.
class StagedOutput {
 public:
  static Result<StagedOutput> Create(const HomeFs& home, const RelPath& output,
                                     const std::string& job_id, bool force, bool directory) {
    auto parent = home.OpenParent(output);
    if (!parent.ok()) return parent.status();
    StagedOutput staged(home, std::move(parent).value(), output,
                        StagingName(job_id, output.Leaf()));
    // A previous attempt of this job may have died mid-way.
    FERRY_RETURN_IF_ERROR(RemoveStaging(home, staged.staging_path()));
    if (auto existing = StatAt(staged.dir(), output.Leaf())) {
      bool mergeable = directory && S_ISDIR(existing->st_mode);
      if (!force && !mergeable) {
        return Status::AlreadyExists(
            fmt::format("'{}' already exists; use --force to replace it", output.Display()));
      }
      if (force && !directory && S_ISDIR(existing->st_mode)) {
        return Status::FailedPrecondition(
            fmt::format("'{}' is a directory; it is not replaced by a file", output.Display()));
      }
    }
    if (directory) {
      if (::mkdirat(staged.dir(), staged.staging_.c_str(), 0755) != 0)
        return PathError(errno, output.Display());
      staged.fd_ = UniqueFd(::openat(staged.dir(), staged.staging_.c_str(),
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    } else {
      staged.fd_ = UniqueFd(::openat(staged.dir(), staged.staging_.c_str(),
                                     O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    }
    if (staged.fd_.get() < 0) return PathError(errno, output.Display());
    staged.created_ = true;
    return staged;
  }

  StagedOutput(StagedOutput&& o) noexcept
      : home_(o.home_),
        parent_(std::move(o.parent_)),
        output_(std::move(o.output_)),
        staging_(std::move(o.staging_)),
        fd_(std::move(o.fd_)),
        created_(std::exchange(o.created_, false)) {}
  StagedOutput& operator=(StagedOutput&&) = delete;
  ~StagedOutput() {
    if (created_) (void)RemoveStaging(*home_, staging_path());
  }

  int fd() const { return fd_.get(); }

  // Publishes the file (transfer/publish.h): fsync, rename, directory fsync.
  Status CommitFile(bool force) { return PublishStaged(force); }

  // Moves the extracted tree into place: as a whole when the destination is
  // new, else entry by entry after checking that nothing clashes.
  Status CommitTree(bool force) {
    FERRY_RETURN_IF_ERROR(SyncTree(fd_.get()));
    if (!StatAt(dir(), output_.Leaf())) return PublishStaged(/*replace=*/false);
    UniqueFd dest(
        ::openat(dir(), output_.Leaf().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dest.get() < 0) return PathError(errno, output_.Display());
    FERRY_RETURN_IF_ERROR(Merge(fd_.get(), dest.get(), output_, force, /*dry_run=*/true));
    return Merge(fd_.get(), dest.get(), output_, force, /*dry_run=*/false);
  }

 private:
  StagedOutput(const HomeFs& home, DirEntry parent, RelPath output, std::string staging)
      : home_(&home),
        parent_(std::move(parent)),
        output_(std::move(output)),
        staging_(std::move(staging)) {}
  RelPath staging_path() const { return output_.Parent().Child(staging_); }

  // The staged file or tree (its own fsync covers a tree's top directory)
  // takes the output's name.
  Status PublishStaged(bool replace) {
    Published published = Publish(fd_.get(), {dir(), staging_, dir(), output_.Leaf(), replace},
                                  "cannot publish the output");
    if (published.moved) created_ = false;
    if (published.ok() || published.moved) return published.status;
    if (published.error == EEXIST) {
      return Status::AlreadyExists(
          fmt::format("'{}' already exists; use --force to replace it", output_.Display()));
    }
    return published.error != 0 ? PathError(published.error, output_.Display()) : published.status;
  }
  int dir() const { return parent_.dir.get(); }

  static Result<std::vector<std::string>> Names(int dirfd) {
    int fd = ::dup(dirfd);
    if (fd < 0) return ErrnoStatus(errno, "cannot read directory");
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return ErrnoStatus(errno, "cannot read directory");
    }
    ::rewinddir(d);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    return names;
  }

  // Extracted files were written without fsync; sync them before they appear.
  static Status SyncTree(int dirfd) {
    auto names = Names(dirfd);
    if (!names.ok()) return names.status();
    for (const auto& name : *names) {
      auto st = StatAt(dirfd, name);
      if (!st || S_ISLNK(st->st_mode)) continue;
      int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0);
      UniqueFd fd(::openat(dirfd, name.c_str(), flags));
      if (fd.get() < 0) return ErrnoStatus(errno, "cannot sync " + name);
      if (S_ISDIR(st->st_mode)) FERRY_RETURN_IF_ERROR(SyncTree(fd.get()));
      if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "cannot sync " + name);
    }
    return Status::Ok();
  }

  // Moves what is in `from` into `to`, then syncs each directory it moved
  // entries into. With `dry_run` only checks, so a clash is found before
  // anything moves.
  static Status Merge(int from, int to, const RelPath& where, bool force, bool dry_run) {
    auto names = Names(from);
    if (!names.ok()) return names.status();
    bool moved = false;
    for (const auto& name : *names) {
      RelPath path = where.Child(name);
      auto src = StatAt(from, name);
      if (!src) continue;
      auto dst = StatAt(to, name);
      if (!dst) {
        if (!dry_run) FERRY_RETURN_IF_ERROR(MoveEntry(from, to, name, false, path.Display()));
        moved = true;
        continue;
      }
      bool src_dir = S_ISDIR(src->st_mode), dst_dir = S_ISDIR(dst->st_mode);
      if (src_dir && dst_dir) {
        UniqueFd sub_from(
            ::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        UniqueFd sub_to(
            ::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub_from.get() < 0 || sub_to.get() < 0) return PathError(errno, path.Display());
        FERRY_RETURN_IF_ERROR(Merge(sub_from.get(), sub_to.get(), path, force, dry_run));
        continue;
      }
      if (src_dir != dst_dir) {
        return Status::AlreadyExists(fmt::format(
            "'{}' is a {} in the archive but a {} on the server; nothing was extracted",
            path.Display(), src_dir ? "directory" : "file", dst_dir ? "directory" : "file"));
      }
      if (!force) {
        return Status::AlreadyExists(
            fmt::format("'{}' already exists; use --force to replace it (nothing was extracted)",
                        path.Display()));
      }
      if (!dry_run) FERRY_RETURN_IF_ERROR(MoveEntry(from, to, name, true, path.Display()));
      moved = true;
    }
    // What moved in is durable once `to` is; a subdirectory merged into
    // synced itself.
    return moved && !dry_run ? SyncDirectory(to) : Status::Ok();
  }

  const HomeFs* home_;
  DirEntry parent_;
  RelPath output_;
  std::string staging_;
  UniqueFd fd_;
  bool created_ = false;
};

}  // namespace

Result<RelPath> CheckJobArgs(JobKind kind, const JobArgs& args) {
  if (args.paths.empty()) return Status::InvalidArgument("name at least one file");
  if (kind != JobKind::kZip && args.paths.size() != 1) {
    return Status::InvalidArgument(
        fmt::format("{} takes exactly one file ({} given)", KindName(kind), args.paths.size()));
  }
  std::vector<RelPath> inputs;
  for (const auto& raw : args.paths) {
    auto path = ParseArgPath(raw);
    if (!path.ok()) return path.status();
    inputs.push_back(std::move(path).value());
  }
  Result<RelPath> output = args.to.empty() ? DefaultOutput(kind, inputs) : ParseArgPath(args.to);
  if (!output.ok()) return output.status();
  for (const auto& in : inputs) {
    if (kind == JobKind::kZip && output->IsWithin(in)) {
      return Status::InvalidArgument(fmt::format(
          "the archive '{}' cannot go inside '{}', which it holds; choose another place with --to",
          output->Display(), in.Display()));
    }
  }
  return output;
}

Result<std::string> RunJob(const Job& job, std::string_view passphrase,
                           const std::string& homes_root, JobControl& control,
                           const JobLimits& limits) {
  auto output = CheckJobArgs(job.kind, job.args);
  if (!output.ok()) return output.status();
  auto home = HomeFs::Open(homes_root + "/" + job.user, false);
  if (!home.ok()) {
    return Status::FailedPrecondition("your home directory is not available to the job worker");
  }
  std::vector<RelPath> inputs;
  for (const auto& raw : job.args.paths) inputs.push_back(*RelPath::Parse(raw));
  const bool force = job.args.force;

  if (NeedsPassphrase(job.kind) && passphrase.empty()) {
    return Status::InvalidArgument("this job needs a passphrase");
  }

  switch (job.kind) {
    case JobKind::kZip: {
      auto staged = StagedOutput::Create(*home, *output, job.id, force, false);
      if (!staged.ok()) return staged.status();
      FERRY_RETURN_IF_ERROR(WriteZip(*home, inputs, staged->fd(), control));
      FERRY_RETURN_IF_ERROR(CheckStop(control));
      FERRY_RETURN_IF_ERROR(staged->CommitFile(force));
      break;
    }
    case JobKind::kUnzip: {
      auto archive = home->OpenForRead(inputs[0]);
      if (!archive.ok()) return archive.status();
      auto staged = StagedOutput::Create(*home, *output, job.id, force, true);
      if (!staged.ok()) return staged.status();
      FERRY_RETURN_IF_ERROR(ExtractZip(archive->fd.get(), staged->fd(), control, limits.unzip));
      FERRY_RETURN_IF_ERROR(CheckStop(control));
      FERRY_RETURN_IF_ERROR(staged->CommitTree(force));
      break;
    }
    case JobKind::kEncrypt:
    case JobKind::kDecrypt: {
      auto input = home->OpenForRead(inputs[0]);
      if (!input.ok()) return input.status();
      auto staged = StagedOutput::Create(*home, *output, job.id, force, false);
      if (!staged.ok()) return staged.status();
      if (job.kind == JobKind::kEncrypt) {
        FERRY_RETURN_IF_ERROR(age::Encrypt(input->fd.get(), staged->fd(), passphrase, control,
                                           {.scrypt_memory = limits.scrypt_memory}));
      } else {
        FERRY_RETURN_IF_ERROR(age::Decrypt(
            input->fd.get(), staged->fd(), passphrase, control,
            {.max_scrypt_log_n = limits.max_scrypt_log_n, .scrypt_memory = limits.scrypt_memory}));
      }
      FERRY_RETURN_IF_ERROR(CheckStop(control));
      FERRY_RETURN_IF_ERROR(staged->CommitFile(force));
      break;
    }
  }
  return output->Relative();
}

}  // namespace ferry::jobs
