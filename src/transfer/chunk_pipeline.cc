#include "transfer/chunk_pipeline.h"

#include <thread>

namespace ferry {

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
  buffer.clear();
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
  ChunkQueue queue(depth);
  Status produced;
  std::thread producer([&] {
    produced = produce(queue);
    queue.Close();
  });
  Status consumed;
  while (auto chunk = queue.Pop()) {
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
