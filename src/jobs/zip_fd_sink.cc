#include "jobs/zip_fd_sink.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "transfer/file_io.h"

namespace ferry::jobs {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

}  // namespace

ZipFdSink::ZipFdSink(int fd) : fd_(fd) {
  zip_error_init(&error_);
  buffer_.reserve(kBufferBytes);
}

ZipFdSink::~ZipFdSink() { zip_error_fini(&error_); }

zip_source_t* ZipFdSink::NewSource(zip_error_t* error) {
  return zip_source_function_create(&ZipFdSink::Callback, this, error);
}

zip_int64_t ZipFdSink::Callback(void* self, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  return static_cast<ZipFdSink*>(self)->Handle(data, len, cmd);
}

zip_int64_t ZipFdSink::Fail(Status status, int zip_code) {
  if (status_.ok()) status_ = std::move(status);
  zip_error_set(&error_, zip_code, 0);
  return -1;
}

Status ZipFdSink::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status s = WriteFullAt(fd_, buffer_.data(), buffer_.size(), static_cast<int64_t>(buffer_start_),
                         "cannot write the ZIP archive");
  buffer_.clear();
  return s;
}

zip_int64_t ZipFdSink::Write(const void* data, uint64_t len) {
  const char* bytes = static_cast<const char*>(data);
  uint64_t buffer_end = buffer_start_ + buffer_.size();
  if (!buffer_.empty() && pos_ >= buffer_start_ && pos_ <= buffer_end &&
      pos_ + len - buffer_start_ <= kBufferBytes) {
    // Inside or right after the buffered range: patch or append in memory.
    size_t at = static_cast<size_t>(pos_ - buffer_start_);
    if (at + len > buffer_.size()) buffer_.resize(at + len);
    std::memcpy(buffer_.data() + at, bytes, len);
  } else {
    Status s = Flush();
    if (!s.ok()) return Fail(std::move(s), ZIP_ER_WRITE);
    if (len >= kBufferBytes) {
      s = WriteFullAt(fd_, bytes, len, static_cast<int64_t>(pos_), "cannot write the ZIP archive");
      if (!s.ok()) return Fail(std::move(s), ZIP_ER_WRITE);
    } else {
      buffer_start_ = pos_;
      buffer_.assign(bytes, bytes + len);
    }
  }
  pos_ += len;
  end_ = std::max(end_, pos_);
  return static_cast<zip_int64_t>(len);
}

zip_int64_t ZipFdSink::Handle(void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  switch (cmd) {
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(
          ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR,
          ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_SUPPORTS,
          ZIP_SOURCE_BEGIN_WRITE, ZIP_SOURCE_COMMIT_WRITE, ZIP_SOURCE_ROLLBACK_WRITE,
          ZIP_SOURCE_WRITE, ZIP_SOURCE_SEEK_WRITE, ZIP_SOURCE_TELL_WRITE, ZIP_SOURCE_REMOVE, -1);

    // --- reading the existing (empty) file ---
    case ZIP_SOURCE_STAT: {
      if (len < sizeof(zip_stat_t)) return Fail(Status::Internal("short zip_stat"), ZIP_ER_INVAL);
      struct stat st {};
      if (::fstat(fd_, &st) != 0) {
        return Fail(ErrnoStatus(errno, "cannot stat the ZIP archive"), ZIP_ER_READ);
      }
      auto* zst = static_cast<zip_stat_t*>(data);
      zip_stat_init(zst);
      zst->valid = ZIP_STAT_SIZE | ZIP_STAT_MTIME;
      zst->size = static_cast<zip_uint64_t>(st.st_size);
      zst->mtime = st.st_mtim.tv_sec;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_OPEN:
      read_pos_ = 0;
      return 0;
    case ZIP_SOURCE_READ: {
      auto n = ReadFullAt(fd_, static_cast<char*>(data), len, static_cast<int64_t>(read_pos_),
                          "cannot read the ZIP archive");
      if (!n.ok()) return Fail(n.status(), ZIP_ER_READ);
      read_pos_ += *n;
      return static_cast<zip_int64_t>(*n);
    }
    case ZIP_SOURCE_SEEK: {
      struct stat st {};
      if (::fstat(fd_, &st) != 0) {
        return Fail(ErrnoStatus(errno, "cannot stat the ZIP archive"), ZIP_ER_SEEK);
      }
      zip_int64_t at = zip_source_seek_compute_offset(
          read_pos_, static_cast<zip_uint64_t>(st.st_size), data, len, &error_);
      if (at < 0) return -1;
      read_pos_ = static_cast<uint64_t>(at);
      return 0;
    }
    case ZIP_SOURCE_TELL:
      return static_cast<zip_int64_t>(read_pos_);
    case ZIP_SOURCE_CLOSE:
      return 0;

    // --- writing the new archive ---
    case ZIP_SOURCE_BEGIN_WRITE:
      buffer_.clear();
      pos_ = end_ = 0;
      if (::ftruncate(fd_, 0) != 0) {
        return Fail(ErrnoStatus(errno, "cannot truncate the ZIP archive"), ZIP_ER_WRITE);
      }
      return 0;
    case ZIP_SOURCE_WRITE:
      return Write(data, len);
    case ZIP_SOURCE_SEEK_WRITE: {
      zip_int64_t at = zip_source_seek_compute_offset(pos_, end_, data, len, &error_);
      if (at < 0) return -1;
      pos_ = static_cast<uint64_t>(at);
      return 0;
    }
    case ZIP_SOURCE_TELL_WRITE:
      return static_cast<zip_int64_t>(pos_);
    case ZIP_SOURCE_COMMIT_WRITE: {
      Status s = Flush();
      if (!s.ok()) return Fail(std::move(s), ZIP_ER_WRITE);
      return 0;
    }
    case ZIP_SOURCE_ROLLBACK_WRITE:
    case ZIP_SOURCE_REMOVE:
      buffer_.clear();
      pos_ = end_ = 0;
      if (::ftruncate(fd_, 0) != 0) {
        return Fail(ErrnoStatus(errno, "cannot truncate the ZIP archive"), ZIP_ER_REMOVE);
      }
      return 0;

    case ZIP_SOURCE_ERROR:
      return zip_error_to_data(&error_, data, len);
    case ZIP_SOURCE_FREE:
      return 0;
    default:
      zip_error_set(&error_, ZIP_ER_OPNOTSUPP, 0);
      return -1;
  }
}

}  // namespace ferry::jobs
