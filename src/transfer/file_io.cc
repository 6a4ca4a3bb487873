#include "transfer/file_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "transfer/transfer_limits.h"

namespace ferry {

Result<size_t> ReadFullAt(int fd, char* buf, size_t size, int64_t offset, std::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buf + done, size - done, offset + static_cast<int64_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, std::string(what));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteFullAt(int fd, const char* data, size_t size, int64_t offset, std::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, offset + static_cast<int64_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, std::string(what));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<size_t> ReadFull(int fd, char* buf, size_t size, std::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, buf + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, std::string(what));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status WriteFull(int fd, const char* data, size_t size, std::string_view what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) return Status::Aborted(std::string(kReaderGone));
      return ErrnoStatus(errno, std::string(what));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SetModificationTime(int fd, int64_t mtime_ns, std::string_view what) {
  if (mtime_ns == 0) return Status::Ok();
  timespec times[2] = {{0, UTIME_OMIT},
                       {static_cast<time_t>(mtime_ns / 1'000'000'000), mtime_ns % 1'000'000'000}};
  if (::futimens(fd, times) != 0) return ErrnoStatus(errno, std::string(what));
  return Status::Ok();
}

bool IsReaderGone(const Status& s) {
  return s.code() == Code::kAborted && s.message() == kReaderGone;
}

Status HashFile(int fd, int64_t length, Sha256& hash) {
  std::vector<char> buf(kChunkBytes);
  for (int64_t offset = 0; length < 0 || offset < length;) {
    size_t want = buf.size();
    if (length >= 0) want = static_cast<size_t>(std::min<int64_t>(length - offset, kChunkBytes));
    auto n = ReadFullAt(fd, buf.data(), want, offset, "cannot read the file to hash it");
    if (!n.ok()) return n.status();
    hash.Update(buf.data(), *n);
    offset += static_cast<int64_t>(*n);
    if (*n < want) {
      if (length < 0) break;
      return Status::DataLoss("the file is shorter than expected: it changed while being read");
    }
  }
  return Status::Ok();
}

Result<std::string> Sha256OfFd(int fd, int64_t length) {
  Sha256 h;
  FERRY_RETURN_IF_ERROR(HashFile(fd, length, h));
  return h.FinishHex();
}

}  // namespace ferry
