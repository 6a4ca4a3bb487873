#include "peer/share_index.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "core/rel_path.h"
#include "core/usable_cpus.h"
#include "peer/own_files.h"
#include "peer/share_hasher.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

struct WalkedFile {
  RelPath path;
  FileInfo info;  // lstat when listed
};

// True if `inner` is `outer` or lies beneath it; both absolute, canonical.
bool IsWithin(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  return std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end()).first == outer.end();
}

// Lists every regular file beneath the share through HomeFs, which follows no
// symlink and crosses no mount point, so the walk stays inside the share and
// cannot loop. A subdirectory that cannot be listed is skipped with a warning;
// only the root failing is an error.
Status Walk(const HomeFs& share, const std::stop_token& stop, std::vector<WalkedFile>& files,
            int64_t& skipped) {
  std::vector<RelPath> dirs{RelPath()};
  while (!dirs.empty()) {
    if (stop.stop_requested()) return Status::Cancelled("the scan was stopped");
    RelPath dir = std::move(dirs.back());
    dirs.pop_back();
    auto entries = share.List(dir);
    if (!entries.ok()) {
      if (dir.IsRoot()) return entries.status();
      spdlog::warn("share index: skipping {}: {}", dir.Display(), entries.status().message());
      ++skipped;
      continue;
    }
    // Pushed in reverse so that directories are walked in name order.
    for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
      FileInfo& entry = *it;
      bool usable = ValidateName(entry.name).ok() && !IsOwnFileName(entry.name) &&
                    dir.parts().size() + 1 < kMaxComponents;
      if (usable && entry.type == FileType::kDirectory) {
        dirs.push_back(dir.Child(entry.name));
      } else if (usable && entry.type == FileType::kFile) {
        RelPath path = dir.Child(entry.name);
        if (path.Relative().size() <= kMaxPathBytes) {
          files.push_back({std::move(path), std::move(entry)});
        } else {
          ++skipped;
        }
      } else {
        ++skipped;
      }
    }
  }
  return Status::Ok();
}

bool SameVersion(const SharedFile& recorded, const FileInfo& now) {
  return recorded.size == now.size && recorded.mtime_ns == now.mtime_ns &&
         recorded.inode == now.inode;
}

// What a rename keeps: the same file, found under another path.
using RenameKey = std::tuple<uint64_t, uint64_t, int64_t, int64_t>;  // device, inode, size, mtime
RenameKey KeyOf(const SharedFile& f) { return {f.device, f.inode, f.size, f.mtime_ns}; }

// What one scan has to do, from what it found and what was recorded.
struct ScanPlan {
  std::vector<SharedFile> removed;  // gone or changed: withdrawn first
  // New paths whose file is one that vanished: recorded with its hashes.
  std::vector<std::pair<RelPath, SharedFile>> renamed;
  std::vector<RelPath> to_hash;
  int64_t bytes_to_hash = 0;  // the sizes of to_hash when walked
  // For each of to_hash: the recorded version when it is only checked again.
  std::vector<std::optional<SharedFile>> recheck_of;
};

ScanPlan PlanScan(std::vector<WalkedFile> walked, std::vector<ShareStore::Row> rows,
                  uint64_t device, ScanStats& stats) {
  ScanPlan plan;
  std::unordered_map<std::string, ShareStore::Row> recorded;
  for (auto& row : rows) {
    std::string path = row.file.path;
    recorded.emplace(std::move(path), std::move(row));
  }
  std::vector<WalkedFile> fresh;  // not recorded (or recorded as another version)
  for (auto& w : walked) {
    auto it = recorded.find(w.path.Relative());
    if (it == recorded.end()) {
      fresh.push_back(std::move(w));
      continue;
    }
    ShareStore::Row row = std::move(it->second);
    recorded.erase(it);
    if (!SameVersion(row.file, w.info)) {
      plan.removed.push_back(std::move(row.file));
      fresh.push_back(std::move(w));
    } else if (row.recheck) {
      plan.bytes_to_hash += w.info.size;
      plan.to_hash.push_back(std::move(w.path));
      plan.recheck_of.push_back(std::move(row.file));
    } else {
      ++stats.files_unchanged;
    }
  }
  std::map<RenameKey, SharedFile> vanished;
  for (auto& [path, row] : recorded) {
    if (!row.recheck) vanished.emplace(KeyOf(row.file), row.file);
    plan.removed.push_back(std::move(row.file));
  }
  for (auto& w : fresh) {
    auto it = vanished.find({device, w.info.inode, w.info.size, w.info.mtime_ns});
    if (it != vanished.end()) {
      plan.renamed.emplace_back(std::move(w.path), std::move(it->second));
      vanished.erase(it);
    } else {
      plan.bytes_to_hash += w.info.size;
      plan.to_hash.push_back(std::move(w.path));
      plan.recheck_of.emplace_back();
    }
  }
  return plan;
}

// The state of one Scan that its steps share, and the steps that record.
struct ScanContext {
  std::mutex& store_mu;
  ShareStore& store;  // GUARDED_BY(store_mu)
  const ScanCallbacks& callbacks;
  const int64_t racy_window_ns;
  ScanStats stats;
  bool cancelled;

  Status Put(const SharedFile& file, bool recheck) {
    std::lock_guard lock(store_mu);
    return store.Put(file, recheck);
  }

  Status Remove(const std::vector<SharedFile>& files) {
    std::vector<std::string> paths;
    paths.reserve(files.size());
    for (const auto& f : files) paths.push_back(f.path);
    {
      std::lock_guard lock(store_mu);
      FERRY_RETURN_IF_ERROR(store.Remove(paths));
    }
    for (const auto& f : files) {
      ++stats.files_removed;
      if (callbacks.on_removed) callbacks.on_removed(f);
    }
    return Status::Ok();
  }

  // Records one file's hashing and reports it. A file checked again whose
  // content is what was recorded is updated without a report.
  Status Record(const RelPath& path, const std::optional<SharedFile>& recheck_of,
                Result<HashedFile> hashed) {
    if (!hashed.ok()) {
      if (hashed.status().code() == Code::kCancelled) {
        cancelled = true;  // a row being checked again stays marked for the next scan
        return Status::Ok();
      }
      if (recheck_of) FERRY_RETURN_IF_ERROR(Remove({*recheck_of}));
      // Gone, or no longer a regular file, since the walk: nothing to index.
      Code code = hashed.status().code();
      if (code == Code::kNotFound || code == Code::kFailedPrecondition) return Status::Ok();
      ++stats.files_unsettled;
      if (callbacks.on_unsettled) callbacks.on_unsettled(path.Relative(), hashed.status());
      return Status::Ok();
    }
    const SharedFile& file = hashed->file;
    bool recheck = file.mtime_ns + racy_window_ns > hashed->started_ns;
    bool same = recheck_of && *recheck_of == file;
    if (recheck_of && !same) FERRY_RETURN_IF_ERROR(Remove({*recheck_of}));
    FERRY_RETURN_IF_ERROR(Put(file, recheck));
    ++stats.files_hashed;
    if (!same && callbacks.on_indexed) callbacks.on_indexed(file);
    return Status::Ok();
  }
};
}  // namespace

Result<std::unique_ptr<ShareIndex>> ShareIndex::Open(const std::string& share_dir,
                                                     const std::string& index_path,
                                                     const ShareIndexOptions& options) {
  std::error_code ec;
  auto share_real = std::filesystem::canonical(share_dir, ec);
  if (ec) {
    return Status::NotFound(
        fmt::format("cannot open the share folder '{}': {}", share_dir, ec.message()));
  }
  auto index_real = std::filesystem::weakly_canonical(std::filesystem::absolute(index_path), ec);
  if (ec) {
    return Status::InvalidArgument(
        fmt::format("cannot resolve the index file '{}': {}", index_path, ec.message()));
  }
  if (IsWithin(index_real, share_real)) {
    return Status::InvalidArgument(fmt::format(
        "the share index '{}' lies inside the share folder '{}'; keep it in the data folder",
        index_path, share_dir));
  }
  auto share = HomeFs::Open(share_real.string(), /*create=*/false);
  if (!share.ok()) return share.status();
  auto store = ShareStore::Open(index_path);
  if (!store.ok()) return store.status();
  return std::unique_ptr<ShareIndex>(
      new ShareIndex(std::move(share).value(), std::move(store).value(), options));
}

ShareIndex::ShareIndex(HomeFs share, ShareStore store, const ShareIndexOptions& options)
    : share_(std::move(share)), options_(options), store_(std::move(store)) {}

IndexingProgress ShareIndex::Progress() const {
  IndexingProgress p;
  p.running = scanning_.load();
  if (!p.running) return p;
  p.files_hashed = scan_files_done_.load();
  p.bytes_hashed = bytes_hashed_.load() - scan_bytes_before_.load();
  p.files_pending = std::max<int64_t>(0, scan_files_planned_.load() - p.files_hashed);
  p.bytes_pending = std::max<int64_t>(0, scan_bytes_planned_.load() - p.bytes_hashed);
  if (p.files_pending == 0) p.bytes_pending = 0;
  return p;
}

Result<int64_t> ShareIndex::Count() {
  std::lock_guard lock(store_mu_);
  return store_.Count();
}

Result<std::vector<SharedFile>> ShareIndex::Files() {
  std::lock_guard lock(store_mu_);
  auto rows = store_.All();
  if (!rows.ok()) return rows.status();
  std::vector<SharedFile> out;
  out.reserve(rows->size());
  for (auto& row : *rows) {
    // A row that did not parse has no chunk list; the next scan replaces it.
    if (static_cast<int64_t>(row.file.chunk_sha256s.size()) == ChunkCount(row.file.size)) {
      out.push_back(std::move(row.file));
    }
  }
  return out;
}

Result<std::optional<SharedFile>> ShareIndex::FindBySha256(std::string_view sha256) {
  std::lock_guard lock(store_mu_);
  return store_.FindBySha256(sha256);
}

Result<OpenFile> ShareIndex::OpenUnchanged(const SharedFile& file) const {
  auto path = RelPath::Parse(file.path);
  if (!path.ok()) return path.status();
  auto open = share_.OpenForRead(*path);
  if (!open.ok()) return open.status();
  if (open->info.inode != file.inode || !StillUnchanged(*open, file)) {
    return Status::FailedPrecondition(
        fmt::format("'{}' changed since it was hashed", path->Display()));
  }
  return open;
}

bool ShareIndex::StillUnchanged(const OpenFile& open, const SharedFile& file) {
  struct stat st {};
  if (::fstat(open.fd.get(), &st) != 0) return false;
  return st.st_size == file.size &&
         static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec ==
             file.mtime_ns;
}

Result<ScanStats> ShareIndex::Scan(const ScanCallbacks& callbacks, std::stop_token stop) {
  std::lock_guard scan_lock(scan_mu_);
  ScanContext ctx{store_mu_, store_, callbacks, options_.racy_window_ns, {}, false};
  const int64_t bytes_before = bytes_hashed_.load();
  scan_bytes_before_ = bytes_before;
  scan_files_planned_ = 0;
  scan_bytes_planned_ = 0;
  scan_files_done_ = 0;
  scanning_ = true;
  struct EndOfScan {
    std::atomic<bool>& scanning;
    ~EndOfScan() { scanning = false; }
  } end_of_scan{scanning_};

  std::vector<WalkedFile> walked;
  FERRY_RETURN_IF_ERROR(Walk(share_, stop, walked, ctx.stats.entries_skipped));
  struct stat root_st {};
  if (::fstat(share_.root_fd(), &root_st) != 0) return ErrnoStatus(errno, "fstat of the share");
  std::vector<ShareStore::Row> rows;
  {
    std::lock_guard lock(store_mu_);
    auto all = store_.All();
    if (!all.ok()) return all.status();
    rows = std::move(all).value();
  }
  ScanPlan plan = PlanScan(std::move(walked), std::move(rows), root_st.st_dev, ctx.stats);

  // What is gone or changed is withdrawn before anything is hashed.
  FERRY_RETURN_IF_ERROR(ctx.Remove(plan.removed));
  for (auto& [path, file] : plan.renamed) {
    file.path = path.Relative();
    FERRY_RETURN_IF_ERROR(ctx.Put(file, false));
    ++ctx.stats.files_renamed;
    if (callbacks.on_indexed) callbacks.on_indexed(file);
  }

  scan_files_planned_ = static_cast<int64_t>(plan.to_hash.size());
  scan_bytes_planned_ = plan.bytes_to_hash;
  Status failed;
  const int threads = options_.hash_threads > 0 ? options_.hash_threads : UsableCpus();
  HashInParallel(share_, plan.to_hash, threads, stop, bytes_hashed_,
                 [&](size_t i, Result<HashedFile> hashed) {
                   ++scan_files_done_;
                   if (failed.ok())
                     failed = ctx.Record(plan.to_hash[i], plan.recheck_of[i], std::move(hashed));
                 });
  ctx.stats.bytes_hashed = bytes_hashed_.load() - bytes_before;
  if (!failed.ok()) return failed;
  if (ctx.cancelled) return Status::Cancelled("the scan was stopped");
  std::lock_guard lock(store_mu_);
  auto count = store_.Count();
  if (!count.ok()) return count.status();
  ctx.stats.files = *count;
  return ctx.stats;
}

}  // namespace ferry
