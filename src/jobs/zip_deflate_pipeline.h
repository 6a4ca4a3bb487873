// Parallel raw-deflate compression of a list of files, handed back in order.
//
// Each file is cut into blocks of kBlockBytes. A block is compressed on its own
// (zlib raw deflate, windowBits -15) with the 32 KiB of input before it as the
// preset dictionary, and ends on a byte boundary (Z_SYNC_FLUSH; a file's last
// block ends with Z_FINISH). The blocks of one file therefore concatenate into
// a single valid deflate stream, as pigz builds its output; the ratio is within
// a fraction of a percent of compressing the file in one go. A block whose
// samples do not compress at all (random, or already compressed, data) is
// written as stored deflate blocks instead of being searched for matches in
// vain: about the same size, for a fraction of the CPU.
//
// Memory: a block is dispatched only while the blocks dispatched but not yet
// taken by Next() hold at most kWindowBytes of input and number at most
// kWindowBlocks (always at least one block), so compressed data waiting for
// the consumer is bounded by about kWindowBytes, plus per worker one block of
// input and its output and three deflate states (under 2 MiB per worker in
// all). Open file descriptors are bounded by kWindowBlocks.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/rel_path.h"
#include "core/status.h"

namespace ferry::jobs {

class DeflatePipeline {
 public:
  static constexpr uint64_t kBlockBytes = 512 << 10;
  static constexpr uint64_t kWindowBytes = 16 << 20;
  static constexpr size_t kWindowBlocks = 64;

  struct Input {
    RelPath path;       // beneath the root fd
    uint64_t size = 0;  // bytes to compress; the file must have at least this many
  };

  struct Chunk {
    size_t input = 0;                 // index into the inputs
    std::vector<unsigned char> data;  // raw deflate bytes
    uint64_t raw_bytes = 0;           // input bytes this block covers
    uint32_t crc = 0;                 // crc32 of those input bytes
    bool last = false;                // the input's final block
  };

  // Starts `threads` (>= 1) workers compressing at `level`. Files are opened
  // with OpenBeneath relative to `root_fd`, which is borrowed and must outlive
  // *this. Inputs of size 0 get one empty final block.
  DeflatePipeline(int root_fd, std::vector<Input> inputs, int threads, int level);
  // Stops the workers and joins them.
  ~DeflatePipeline();
  DeflatePipeline(const DeflatePipeline&) = delete;
  DeflatePipeline& operator=(const DeflatePipeline&) = delete;

  // The next block, inputs in order and each input's blocks in order; waits
  // while it is being compressed. Errors name the file: as OpenBeneath words
  // them, FAILED_PRECONDITION if it is no longer a regular file, ABORTED if it
  // became shorter than its size. After an error every later call fails too.
  // REQUIRES: called from one thread at a time, not after the last block.
  Result<Chunk> Next();

 private:
  // A file shared by the blocks cut from it; opened by the first to need it.
  struct OpenInput {
    std::once_flag once;
    int fd = -1;  // owned; closed when the last block holding it is done
    Status status;
    ~OpenInput();
  };
  struct Task {
    size_t input = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    bool last = false;
    std::shared_ptr<OpenInput> file;
    size_t slot = 0;  // sequence number
  };
  struct Slot {
    bool done = false;
    uint64_t length = 0;
    Status status;
    Chunk chunk;
  };

  void Work(int level);
  bool CanDispatch() const;  // REQUIRES: mu_ held
  Task Dispatch();           // REQUIRES: mu_ held, CanDispatch()
  struct Deflater;           // one worker's zlib streams and input buffer
  Status Compress(Deflater& d, const Task& task, Chunk& chunk) const;

  const int root_fd_;
  const std::vector<Input> inputs_;

  std::mutex mu_;
  std::condition_variable cv_;  // signalled on every change below
  // Everything below is guarded by mu_.
  bool stop_ = false;
  size_t next_input_ = 0;  // the next block to dispatch: input and offset
  uint64_t next_offset_ = 0;
  std::shared_ptr<OpenInput> next_file_;  // the open handle for next_input_
  std::deque<Slot> slots_;                // dispatched and not yet taken, in order
  size_t first_slot_ = 0;                 // sequence number of slots_.front()
  uint64_t bytes_in_flight_ = 0;          // input bytes of slots_
  Status failed_;                         // the first error Next() returned

  std::vector<std::thread> workers_;
};

}  // namespace ferry::jobs
