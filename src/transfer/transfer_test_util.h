// A scratch directory and file helpers for the transfer tests.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/unique_fd.h"
#include "transfer/chunk_pipeline.h"

namespace ferry::testing {

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/ferry-transfer-XXXXXX";
    path_ = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Bytes that differ from chunk to chunk, so a chunk mixed up with another shows.
inline std::string PatternBytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
  return s;
}

inline Chunk MakeChunk(std::string data, std::string sha256 = "", int64_t offset = 0) {
  Chunk chunk;
  chunk.offset = offset;
  chunk.data = std::move(data);
  chunk.sha256 = std::move(sha256);
  return chunk;
}

inline UniqueFd WriteFile(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.valid() &&
      ::pwrite(fd.get(), data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) {
    return UniqueFd();
  }
  return fd;
}

}  // namespace ferry::testing
