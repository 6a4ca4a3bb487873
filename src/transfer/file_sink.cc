#include "transfer/file_sink.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include <fmt/format.h>

#include "transfer/chunk_pipeline.h"
#include "transfer/file_io.h"

namespace ferry {

Result<FileSink> FileSink::Resume(int fd, int64_t offset, std::string what) {
  Sha256 hash;
  FERRY_RETURN_IF_ERROR(HashFile(fd, offset, hash));
  return FileSink(fd, offset, std::move(what), std::move(hash));
}

bool FileSink::ExpectSize(int64_t size) {
  size_ = size;
  return written_ <= size;
}

bool FileSink::Admit(int64_t n) {
  if (size_ >= 0 && n > size_ - admitted_) return false;
  admitted_ += n;
  return true;
}

Status FileSink::Write(const Chunk& chunk) {
  if (!chunk.sha256.empty()) {
    std::string got = Sha256::HexOf(chunk.data);
    if (got.size() != chunk.sha256.size() ||
        !std::equal(got.begin(), got.end(), chunk.sha256.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      return Status::DataLoss(fmt::format(
          "the chunk at byte {} ({} bytes) does not match its SHA-256: it was damaged in transit",
          written_, chunk.data.size()));
    }
  }
  FERRY_RETURN_IF_ERROR(WriteFullAt(fd_, chunk.data.data(), chunk.data.size(), written_, what_));
  hash_.Update(chunk.data.data(), chunk.data.size());
  written_ += static_cast<int64_t>(chunk.data.size());
  return Status::Ok();
}

bool FileSink::Matches(std::string_view expected_hex) {
  sha256_ = hash_.FinishHex();
  return sha256_ == LowerHex(expected_hex);
}

Status FileSink::Sync() {
  if (::fsync(fd_) != 0) return ErrnoStatus(errno, "cannot make the file durable");
  return Status::Ok();
}

}  // namespace ferry
