#include "peer/share_hasher.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <time.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "core/sha256.h"
#include "transfer/chunk_tree.h"
#include "transfer/file_source.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

int64_t RealtimeNs() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Results handed from the workers to the calling thread.
class ResultQueue {
 public:
  void Push(size_t index, Result<HashedFile> result) {
    {
      std::lock_guard lock(mu_);
      done_.emplace_back(index, std::move(result));
    }
    ready_.notify_one();
  }
  std::pair<size_t, Result<HashedFile>> Pop() {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return !done_.empty(); });
    auto item = std::move(done_.front());
    done_.pop_front();
    return item;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::pair<size_t, Result<HashedFile>>> done_;  // GUARDED_BY(mu_)
};

}  // namespace

Result<HashedFile> HashSharedFile(const HomeFs& share, const RelPath& path,
                                  const std::stop_token& stop, std::atomic<int64_t>& bytes_hashed) {
  if (stop.stop_requested()) return Status::Cancelled("the scan was stopped");
  HashedFile out;
  out.started_ns = RealtimeNs();
  auto open = share.OpenForRead(path);
  if (!open.ok()) return open.status();
  struct stat before {};
  if (::fstat(open->fd.get(), &before) != 0) return PathError(errno, path.Display());

  SharedFile& file = out.file;
  file.path = path.Relative();
  file.hashed_at = out.started_ns / 1'000'000'000;
  file.size = before.st_size;
  file.mtime_ns = MtimeNs(before);
  file.inode = before.st_ino;
  file.device = before.st_dev;
  file.chunk_sha256s.reserve(static_cast<size_t>(ChunkCount(file.size)));

  Sha256 whole;
  SourceOptions options;
  options.running_hash = &whole;
  options.chunk_sha256 = true;
  options.read_error = fmt::format("cannot read '{}'", path.Display());
  options.shrank_error = fmt::format("'{}' shrank while it was being hashed", path.Display());
  Status read = ReadChunks(open->fd.get(), 0, file.size, options, [&](Chunk& chunk) -> Status {
    bytes_hashed.fetch_add(static_cast<int64_t>(chunk.data.size()), std::memory_order_relaxed);
    if (stop.stop_requested()) return Status::Cancelled("the scan was stopped");
    // Empty when the last chunk no longer ends the file: it grew meanwhile.
    if (chunk.sha256.empty()) {
      return Status::Aborted(fmt::format("'{}' grew while it was being hashed", path.Display()));
    }
    file.chunk_sha256s.push_back(std::move(chunk.sha256));
    return Status::Ok();
  });
  if (read.code() == Code::kDataLoss) return Status::Aborted(read.message());
  if (!read.ok()) return read;

  struct stat after {};
  if (::fstat(open->fd.get(), &after) != 0) return PathError(errno, path.Display());
  if (after.st_size != before.st_size || MtimeNs(after) != file.mtime_ns) {
    return Status::Aborted(fmt::format("'{}' changed while it was being hashed", path.Display()));
  }
  file.sha256 = whole.FinishHex();
  auto root = ChunkTreeRootHex(file.chunk_sha256s);
  if (!root.ok()) return root.status();
  file.chunk_root = std::move(root).value();
  return out;
}

void HashInParallel(const HomeFs& share, const std::vector<RelPath>& paths, int threads,
                    const std::stop_token& stop, std::atomic<int64_t>& bytes_hashed,
                    const std::function<void(size_t, Result<HashedFile>)>& done) {
  if (paths.empty()) return;
  size_t workers = std::min(paths.size(), static_cast<size_t>(std::max(threads, 1)));
  std::atomic<size_t> next{0};
  ResultQueue results;
  std::vector<std::jthread> pool;
  pool.reserve(workers);
  for (size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < paths.size(); i = next.fetch_add(1)) {
        results.Push(i, HashSharedFile(share, paths[i], stop, bytes_hashed));
      }
    });
  }
  for (size_t received = 0; received < paths.size(); ++received) {
    auto [index, result] = results.Pop();
    done(index, std::move(result));
  }
}

}  // namespace ferry
