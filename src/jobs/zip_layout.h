// Where each entry of a ZIP archive lies, as its central directory and local
// headers say (PKWARE APPNOTE 4.3), read without libzip. ExtractZip uses it to
// refuse archives whose entries share bytes: overlapping entries let a small
// archive declare far more output than its compressed data could honestly
// hold (the "better zip bomb" construction), and nothing an honest tool writes
// has them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ferry::jobs {

// The bytes of an archive, read at offsets.
class ZipBytes {
 public:
  virtual ~ZipBytes() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly `n` bytes at `offset`. REQUIRES: offset + n <= size().
  virtual Status ReadAt(uint64_t offset, char* out, size_t n) const = 0;
};

// A regular file, borrowed; read with pread(2).
class FdZipBytes final : public ZipBytes {
 public:
  FdZipBytes(int fd, uint64_t size) : fd_(fd), size_(size) {}
  uint64_t size() const override { return size_; }
  Status ReadAt(uint64_t offset, char* out, size_t n) const override;

 private:
  const int fd_;
  const uint64_t size_;
};

// Bytes in memory, borrowed.
class MemoryZipBytes final : public ZipBytes {
 public:
  explicit MemoryZipBytes(std::string_view data) : data_(data) {}
  uint64_t size() const override { return data_.size(); }
  Status ReadAt(uint64_t offset, char* out, size_t n) const override;

 private:
  const std::string_view data_;
};

struct ZipEntrySpan {
  std::string name;                // as stored, raw; escape before printing
  uint64_t local_offset = 0;       // where its local header starts
  uint64_t data_end = 0;           // one past its compressed data
  uint64_t compressed_size = 0;    // from the central directory (ZIP64 applied)
  uint64_t uncompressed_size = 0;  // declared; see ExtractZip for how it is held to it
};

struct ZipLayout {
  std::vector<ZipEntrySpan> entries;  // in central directory order
  uint64_t central_directory_offset = 0;
};

// The central directory a ZipLayout is read from is at most this large.
inline constexpr uint64_t kMaxCentralDirectoryBytes = 64ull << 20;

// Reads the end of central directory record (ZIP64 where it says so), every
// central directory entry and the local header each points at, and checks
// that every entry's local header and compressed data lie before the central
// directory and apart from every other entry's.
// Errors: INVALID_ARGUMENT when the structures cannot be read (no end record,
// a signature missing, an offset or size past the end, more than
// `max_entries` entries, a central directory over kMaxCentralDirectoryBytes,
// a multi-disk archive); FAILED_PRECONDITION naming two entries whose bytes
// overlap.
Result<ZipLayout> ReadZipLayout(const ZipBytes& in, uint64_t max_entries);

}  // namespace ferry::jobs
