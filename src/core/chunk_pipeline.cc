#include "core/chunk_pipeline.h"

#include <thread>

namespace ferry {

bool ChunkQueue::Push(std::string chunk) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return chunks_.size() < depth_ || abandoned_; });
  if (abandoned_) return false;
  chunks_.push_back(std::move(chunk));
  changed_.notify_all();
  return true;
}

std::optional<std::string> ChunkQueue::Pop() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !chunks_.empty() || closed_; });
  if (chunks_.empty()) return std::nullopt;
  std::string chunk = std::move(chunks_.front());
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
  changed_.notify_all();
}

Status RunPipeline(size_t depth, const std::function<Status(ChunkQueue&)>& produce,
                   const std::function<Status(std::string&)>& consume) {
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
  }
  producer.join();
  return consumed.ok() ? produced : consumed;
}

}  // namespace ferry
