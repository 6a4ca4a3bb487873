// Two-stage pipelines for streaming transfers: one thread produces chunks
// (reads the network or a file) while the calling thread consumes them (writes
// and hashes, or sends), with a bounded number of chunks in between. On a
// transfer both stages are CPU-heavy (TLS, copies, SHA-256), so overlapping
// them lets one process use two cores while memory stays bounded by `depth`
// chunks.
//
// The consumer hands each chunk's buffer back (RunPipeline does it after
// `consume` returns), and the producer takes buffers from there first, so a
// transfer reuses the same few chunk-sized buffers from start to end instead
// of allocating and freeing one per chunk. When the last pipeline of the
// process ends after a large transfer, the memory freed is returned to the
// system (core/process_tuning.h), so an idle process does not keep it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace ferry {

// One piece of a file in flight.
struct Chunk {
  int64_t offset = 0;  // where `data` starts in the file
  std::string data;
  // Hex SHA-256 of `data` when it is one whole chunk of the chunk grid
  // (transfer_limits.h); empty when not known or not a whole grid chunk.
  std::string sha256;
};

// Thread-safe: one producer and one consumer.
class ChunkQueue {
 public:
  explicit ChunkQueue(size_t depth) : depth_(depth) {}
  // Blocks while full; false if the consumer gave up (stop producing).
  bool Push(Chunk chunk);
  // Blocks while empty; nullopt once the producer is done and all was taken.
  std::optional<Chunk> Pop();
  // Producer side: no more chunks.
  void Close();
  // Consumer side: stop the producer; chunks still queued are dropped.
  void Abandon();
  // Consumer side: a buffer the producer may reuse (kept: at most depth + 2).
  void Recycle(std::string buffer);
  // Producer side: a buffer to overwrite (resize, then fill or swap): a
  // recycled one, which keeps its old size and bytes, when there is one,
  // else an empty string.
  std::string TakeBuffer();

 private:
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Chunk> chunks_;        // GUARDED_BY(mu_)
  std::vector<std::string> spare_;  // GUARDED_BY(mu_)
  bool closed_ = false;             // GUARDED_BY(mu_)
  bool abandoned_ = false;          // GUARDED_BY(mu_)
};

// Runs `produce` on a new thread and `consume` for each chunk on this one;
// after `consume` returns, whatever buffer is left in the chunk's `data` is
// recycled. `produce` returns its own Status (e.g. a read error); `consume`
// stopping with an error abandons the queue so the producer ends promptly.
// Returns the consumer's error first, else the producer's.
Status RunPipeline(size_t depth, const std::function<Status(ChunkQueue&)>& produce,
                   const std::function<Status(Chunk&)>& consume);

}  // namespace ferry
