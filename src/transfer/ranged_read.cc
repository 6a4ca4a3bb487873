#include "transfer/ranged_read.h"

#include <fcntl.h>

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "core/sha256.h"
#include "transfer/file_io.h"
#include "transfer/file_source.h"
#include "transfer/hash_cache.h"
#include "transfer/transfer_limits.h"

namespace ferry {
namespace {

// Remembers the hashes of a whole-file read, only for the version that was read.
void RememberHashes(const OpenFile& file, const std::string& sha256,
                    const std::vector<std::string>* chunk_sha256s) {
  auto now = StatFd(file.fd.get());
  if (!now.ok() || now->size != file.info.size || now->mtime_ns != file.info.mtime_ns) return;
  if (!sha256.empty()) StoreSha256(file.fd.get(), file.info, sha256);
  if (chunk_sha256s != nullptr) StoreChunkSha256s(file.fd.get(), file.info, *chunk_sha256s);
}

}  // namespace

Result<ByteRange> ResolveRange(int64_t size, int64_t offset, int64_t length,
                               std::string_view display) {
  if (length < 0) {
    return Status::InvalidArgument(
        fmt::format("the range's length is negative ({}); 0 means to the end of the file", length));
  }
  if (offset < 0 || offset > size) {
    return Status::OutOfRange(
        fmt::format("range starts at {} but '{}' has {} bytes", offset, display, size));
  }
  // (Written so that offset + length cannot overflow.)
  int64_t end = length == 0 || length > size - offset ? size : offset + length;
  return ByteRange{offset, end};
}

Status ServeRange(const OpenFile& file, ByteRange range, const RangeOptions& options,
                  const RangeWriter& write) {
  const int fd = file.fd.get();
  const int64_t size = file.info.size;
  const bool whole_file = range.begin == 0 && range.end == size;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  // A hash remembered from the upload (or an earlier download) spares
  // reading the file twice; otherwise hash as it streams.
  std::optional<std::string> known_sha;
  if (range.end == size) known_sha = CachedSha256(fd, file.info);
  std::optional<std::vector<std::string>> known_chunks;
  if (options.chunk_sha256) known_chunks = CachedChunkSha256s(fd, file.info);
  Sha256 hash;
  if (!known_sha) FERRY_RETURN_IF_ERROR(HashFile(fd, range.begin, hash));
  auto prefix_sha = [&] { return known_sha ? *known_sha : hash.FinishHex(); };

  if (range.begin == range.end) {
    Chunk empty;
    empty.offset = range.begin;
    return write(empty, true, prefix_sha());
  }
  SourceOptions source;
  source.running_hash = known_sha ? nullptr : &hash;
  source.chunk_sha256 = options.chunk_sha256;
  source.known_chunk_sha256s = known_chunks ? &*known_chunks : nullptr;
  // Chunk hashes computed over a whole-file read are worth keeping.
  std::vector<std::string> computed_chunks;
  const bool collect_chunks = options.chunk_sha256 && !known_chunks && whole_file;
  std::string sha256;
  FERRY_RETURN_IF_ERROR(ReadChunks(fd, range.begin, range.end, source, [&](Chunk& chunk) {
    if (collect_chunks) computed_chunks.push_back(chunk.sha256);
    bool last = chunk.offset + static_cast<int64_t>(chunk.data.size()) == range.end;
    if (last) sha256 = prefix_sha();
    return write(chunk, last, last ? sha256 : std::string());
  }));
  if (whole_file && (!known_sha || collect_chunks)) {
    RememberHashes(file, known_sha ? std::string() : sha256,
                   collect_chunks ? &computed_chunks : nullptr);
  }
  return Status::Ok();
}

}  // namespace ferry
