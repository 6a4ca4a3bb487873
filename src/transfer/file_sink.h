// The receiving side of a transfer: where chunks are written and verified.
// Bytes arrive in order from a starting offset up to a known size; each is
// written at its offset and fed to the SHA-256 of the whole file from byte 0,
// so the result can be checked against the sender's hash.
//
// Two threads may use one sink: the one reading the network calls Admit
// before queuing a chunk (so nothing past the size is ever queued), the one
// writing calls Write; everything else is for the writing thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/sha256.h"
#include "core/status.h"

namespace ferry {

struct Chunk;

class FileSink {
 public:
  // A sink writing to `fd` from `offset` on; hashes the bytes [0, offset) the
  // file already holds first. `what` words write errors ("<what>: <strerror>").
  static Result<FileSink> Resume(int fd, int64_t offset, std::string what);

  FileSink(FileSink&&) = default;
  FileSink& operator=(FileSink&&) = delete;
  FileSink(const FileSink&) = delete;

  // The file's full size once known (before the first Admit). Returns false
  // if the sink already holds more than that.
  bool ExpectSize(int64_t size);
  int64_t size() const { return size_; }
  // Network side: counts `n` more bytes on their way; false (and nothing
  // counted) if they would pass the expected size.
  bool Admit(int64_t n);

  // Writes `chunk.data` at the next offset and hashes it. When `chunk.sha256`
  // is set, the data is checked against it first: DATA_LOSS, and nothing
  // written, if they differ. Write errors keep their errno's code (ENOSPC is
  // RESOURCE_EXHAUSTED).
  Status Write(const Chunk& chunk);
  // The offset after the last byte written.
  int64_t written() const { return written_; }
  bool complete() const { return written_ == size_; }

  // Finishes the hash of [0, written()) and compares it with the sender's hex
  // (either case). Call once, after the last Write.
  bool Matches(std::string_view expected_hex);
  // The hex hash Matches computed.
  const std::string& sha256() const { return sha256_; }

  // fsync: the bytes written are durable.
  Status Sync();

 private:
  FileSink(int fd, int64_t offset, std::string what, Sha256 hash)
      : fd_(fd),
        written_(offset),
        admitted_(offset),
        what_(std::move(what)),
        hash_(std::move(hash)) {}

  int fd_;
  int64_t size_ = -1;
  int64_t written_;   // the writing thread's
  int64_t admitted_;  // the network thread's
  std::string what_;
  Sha256 hash_;
  std::string sha256_;
};

}  // namespace ferry
