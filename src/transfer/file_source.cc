#include "transfer/file_source.h"

#include <sys/stat.h>

#include <algorithm>

#include "core/sha256.h"
#include "transfer/file_io.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

// Chunks read ahead of the sender: enough to keep both threads busy.
constexpr size_t kPipelineDepth = 2;

// Reads one chunk starting at `pos` into a recycled buffer.
Status ReadOneChunk(int fd, int64_t pos, int64_t end, int64_t file_end_hint,
                    const SourceOptions& options, ChunkQueue& queue, Chunk& chunk) {
  int64_t grid_end = (ChunkIndex(pos) + 1) * kChunkBytes;
  size_t want = static_cast<size_t>(std::min(grid_end, end) - pos);
  chunk.offset = pos;
  chunk.data = queue.TakeBuffer();
  chunk.data.resize(want);
  auto n = ReadFullAt(fd, chunk.data.data(), want, pos, options.read_error);
  if (!n.ok()) return n.status();
  if (*n != want) return Status::DataLoss(options.shrank_error);
  if (options.running_hash != nullptr) options.running_hash->Update(chunk.data.data(), want);
  chunk.sha256.clear();
  // A whole grid chunk: it starts on the grid and runs to the next boundary,
  // or to the end of the file.
  bool whole = pos % kChunkBytes == 0 && (pos + static_cast<int64_t>(want) == grid_end ||
                                          pos + static_cast<int64_t>(want) == file_end_hint);
  if (options.chunk_sha256 && whole) {
    size_t index = static_cast<size_t>(ChunkIndex(pos));
    if (options.known_chunk_sha256s != nullptr && index < options.known_chunk_sha256s->size()) {
      chunk.sha256 = (*options.known_chunk_sha256s)[index];
    } else {
      chunk.sha256 = Sha256::HexOf(chunk.data);
    }
  }
  return Status::Ok();
}

}  // namespace

Status ReadChunks(int fd, int64_t begin, int64_t end, const SourceOptions& options,
                  const std::function<Status(Chunk&)>& send) {
  // A short last chunk is a whole grid chunk only if it ends the file.
  int64_t file_end = -1;
  if (struct stat st{}; ::fstat(fd, &st) == 0) file_end = st.st_size;
  return RunPipeline(
      kPipelineDepth,
      [&](ChunkQueue& queue) -> Status {
        for (int64_t pos = begin; pos < end;) {
          Chunk chunk;
          FERRY_RETURN_IF_ERROR(ReadOneChunk(fd, pos, end, file_end, options, queue, chunk));
          pos += static_cast<int64_t>(chunk.data.size());
          if (!queue.Push(std::move(chunk))) return Status::Ok();  // the sender says why
        }
        return Status::Ok();
      },
      send);
}

}  // namespace ferry
