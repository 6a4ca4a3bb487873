// Two-stage pipelines for streaming transfers: one thread produces chunks
// (reads the network or a file) while the calling thread consumes them (writes
// and hashes), with a bounded number of chunks in between. On a transfer both
// stages are CPU-heavy (TLS, copies, SHA-256), so overlapping them lets one
// process use two cores while memory stays bounded by `depth` chunks.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.h"

namespace ferry {

class ChunkQueue {
 public:
  explicit ChunkQueue(size_t depth) : depth_(depth) {}
  // Blocks while full; false if the consumer gave up (stop producing).
  bool Push(std::string chunk);
  // Blocks while empty; nullopt once the producer is done and all was taken.
  std::optional<std::string> Pop();
  // Producer side: no more chunks.
  void Close();
  // Consumer side: stop the producer; chunks still queued are dropped.
  void Abandon();

 private:
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;  // GUARDED_BY(mu_)
  bool closed_ = false;             // GUARDED_BY(mu_)
  bool abandoned_ = false;          // GUARDED_BY(mu_)
};

// Runs `produce` on a new thread and `consume` for each chunk on this one.
// `produce` returns its own Status (e.g. a read error); `consume` stopping with
// an error abandons the queue so the producer ends promptly. Returns the
// consumer's error first, else the producer's.
Status RunPipeline(size_t depth, const std::function<Status(ChunkQueue&)>& produce,
                   const std::function<Status(std::string&)>& consume);

}  // namespace ferry
