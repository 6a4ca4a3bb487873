#include "transfer/chunk_pipeline.h"

#include <atomic>
#include <thread>

#include "core/process_tuning.h"

namespace ferry {
namespace {

// Transfers smaller than this leave too little free memory behind to be
// worth a walk of malloc's arenas.
constexpr int64_t kReturnMemoryAfterBytes = int64_t{32} << 20;

// Pipelines running in this process. When the last one ends after a large
// transfer, the memory its buffers (and the network's) took is given back
// to the system: glibc keeps freed memory in its arenas (M_TRIM_THRESHOLD
// is high so that streaming reuses it), which would otherwise leave the
// resident set of an idle process at the level of its busiest moment and let
// it creep from one transfer to the next as the arenas fragment.
std::atomic<int> running_pipelines{0};

class PipelineRunning {
 public:
  PipelineRunning() { running_pipelines++; }
  ~PipelineRunning() {
    if (--running_pipelines == 0 && bytes_ >= kReturnMemoryAfterBytes) ReturnFreeMemory();
  }
  PipelineRunning(const PipelineRunning&) = delete;
  PipelineRunning& operator=(const PipelineRunning&) = delete;
  void Add(size_t bytes) { bytes_ += static_cast<int64_t>(bytes); }

 private:
  int64_t bytes_ = 0;
};

}  // namespace

bool ChunkQueue::Push(Chunk chunk) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return chunks_.size() < depth_ || abandoned_; });
  if (abandoned_) return false;
  chunks_.push_back(std::move(chunk));
  changed_.notify_all();
  return true;
}

std::optional<Chunk> ChunkQueue::Pop() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !chunks_.empty() || closed_; });
  if (chunks_.empty()) return std::nullopt;
  Chunk chunk = std::move(chunks_.front());
  chunks_.pop_front();
  changed_.notify_all();
  return chunk;
}

void ChunkQueue::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  changed_.notify_all();
}

void ChunkQueue::Abandon() {
  std::lock_guard lock(mu_);
  abandoned_ = true;
  chunks_.clear();
  spare_.clear();
  changed_.notify_all();
}

void ChunkQueue::Recycle(std::string buffer) {
  if (buffer.capacity() == 0) return;
  // The bytes stay: a taker sizes the buffer and overwrites it, and keeping
  // the size spares it zero-filling a whole chunk again (resize).
  std::lock_guard lock(mu_);
  if (!abandoned_ && spare_.size() < depth_ + 2) spare_.push_back(std::move(buffer));
}

std::string ChunkQueue::TakeBuffer() {
  std::lock_guard lock(mu_);
  if (spare_.empty()) return {};
  std::string buffer = std::move(spare_.back());
  spare_.pop_back();
  return buffer;
}

Status RunPipeline(size_t depth, const std::function<Status(ChunkQueue&)>& produce,
                   const std::function<Status(Chunk&)>& consume) {
  PipelineRunning running;
  ChunkQueue queue(depth);
  Status produced;
  std::thread producer([&] {
    produced = produce(queue);
    queue.Close();
  });
  Status consumed;
  while (auto chunk = queue.Pop()) {
    running.Add(chunk->data.size());
    consumed = consume(*chunk);
    if (!consumed.ok()) {
      queue.Abandon();
      break;
    }
    queue.Recycle(std::move(chunk->data));
  }
  producer.join();
  return consumed.ok() ? produced : consumed;
}

}  // namespace ferry
