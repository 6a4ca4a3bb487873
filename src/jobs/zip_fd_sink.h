// A libzip source that keeps a ZIP archive in a file descriptor, so libzip
// writes the archive ferry opened (a temporary file) instead of opening paths
// itself. It implements the read side for an empty existing file and the whole
// write side; writes go through a 1 MiB write-back buffer, because libzip
// writes in pieces of a few KiB and seeks back to patch each local header.
#pragma once

#include <zip.h>

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace ferry::jobs {

class ZipFdSink {
 public:
  // `fd` is borrowed and must be a regular file opened O_RDWR.
  explicit ZipFdSink(int fd);
  ~ZipFdSink();
  ZipFdSink(const ZipFdSink&) = delete;
  ZipFdSink& operator=(const ZipFdSink&) = delete;

  // A new libzip source on the fd, for zip_open_from_source (which then owns
  // it). *this must outlive the source: FREE leaves *this alone.
  zip_source_t* NewSource(zip_error_t* error);

  // The first I/O error, worded for people; OK if there was none.
  const Status& status() const { return status_; }

 private:
  static zip_int64_t Callback(void* self, void* data, zip_uint64_t len, zip_source_cmd_t cmd);
  zip_int64_t Handle(void* data, zip_uint64_t len, zip_source_cmd_t cmd);
  zip_int64_t Fail(Status status, int zip_code);
  zip_int64_t Write(const void* data, uint64_t len);
  Status Flush();

  const int fd_;
  zip_error_t error_;
  Status status_;
  uint64_t read_pos_ = 0;  // read side: position in the existing file
  uint64_t pos_ = 0;       // write side: where the next write goes
  uint64_t end_ = 0;       // write side: the archive's length so far
  // Bytes not yet written: they belong at [buffer_start_, buffer_start_ + buffer_.size()).
  std::vector<char> buffer_;
  uint64_t buffer_start_ = 0;
};

}  // namespace ferry::jobs
