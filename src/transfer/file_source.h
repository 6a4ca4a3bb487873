// The sending side of a transfer: where a file's chunks are read and hashed.
// A range is read on a second thread in chunks on the chunk grid
// (transfer_limits.h) while the calling thread sends them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "transfer/chunk_pipeline.h"

namespace ferry {

class Sha256;

struct SourceOptions {
  // Updated with every byte read, in file order; may be null. A caller that
  // wants the hash of [0, end) feeds it [0, begin) first (HashFile).
  Sha256* running_hash = nullptr;
  // Fill Chunk::sha256 for each chunk that is a whole grid chunk: from
  // `known_chunk_sha256s` (indexed by grid chunk) when given, else hashed as
  // the chunk is read.
  bool chunk_sha256 = false;
  const std::vector<std::string>* known_chunk_sha256s = nullptr;
  // Words the errors: "<read_error>: <strerror>" and, when the file ends
  // before the range does (DATA_LOSS), `shrank_error`.
  std::string read_error = "cannot read the file";
  std::string shrank_error = "the file shrank while it was being sent";
};

// Reads bytes [begin, end) of `fd` and calls `send` for each chunk, in order,
// on this thread: the first chunk ends at the next grid boundary (or `end`),
// every other one is a whole grid chunk except perhaps the last. `send` may
// take the chunk's data (a buffer it leaves in `chunk.data` is reused).
// Returns `send`'s error first, else the read's. REQUIRES: 0 <= begin <= end.
Status ReadChunks(int fd, int64_t begin, int64_t end, const SourceOptions& options,
                  const std::function<Status(Chunk&)>& send);

}  // namespace ferry
