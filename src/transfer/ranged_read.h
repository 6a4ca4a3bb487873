// The serving side of a ranged read: what a Download handler (and a peer's
// chunk service) uses to stream bytes [begin, end) of an open file. It checks
// the range, reads and hashes through file_source.h, takes hashes from the
// hash cache when it can and remembers them when it read a whole file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/home_fs.h"
#include "core/status.h"
#include "transfer/chunk_pipeline.h"

namespace ferry {

// Bytes [begin, end) of a file.
struct ByteRange {
  int64_t begin = 0;
  int64_t end = 0;
};

// The range a request for `length` bytes at `offset` names in a file of
// `size` bytes (length 0, or one past the end, means to the end).
// INVALID_ARGUMENT if length is negative; OUT_OF_RANGE if offset is outside
// [0, size].
Result<ByteRange> ResolveRange(int64_t size, int64_t offset, int64_t length,
                               std::string_view display);

struct RangeOptions {
  // Give each chunk that is a whole grid chunk its SHA-256 (Chunk::sha256).
  bool chunk_sha256 = false;
};

// Called for each chunk of the reply, in order; `last` on the final one,
// whose `prefix_sha256` is the hex SHA-256 of the file's bytes [0, range.end)
// (empty on the others). An empty range makes one call with no data. The
// writer may take the chunk's data.
using RangeWriter =
    std::function<Status(Chunk& chunk, bool last, const std::string& prefix_sha256)>;

// Streams `range` of `file` (its descriptor and the fstat it was opened with)
// to `write`. DATA_LOSS if the file shrinks meanwhile; `write`'s error ends
// the stream and is returned.
Status ServeRange(const OpenFile& file, ByteRange range, const RangeOptions& options,
                  const RangeWriter& write);

}  // namespace ferry
