// Whole-buffer positional I/O and hashing of open files, shared by both ends
// of a transfer. Short reads and writes are continued, EINTR is retried.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/sha256.h"
#include "core/status.h"

namespace ferry {

// Reads `size` bytes at `offset`; fewer only where the file ends. Errors are
// worded "<what>: <strerror>".
Result<size_t> ReadFullAt(int fd, char* buf, size_t size, int64_t offset, std::string_view what);
// Writes all `size` bytes at `offset`.
Status WriteFullAt(int fd, const char* data, size_t size, int64_t offset, std::string_view what);
// Feeds bytes [0, length) of `fd` into `hash`; length < 0 means to the end.
// DATA_LOSS if the file is shorter than `length`.
Status HashFile(int fd, int64_t length, Sha256& hash);
// Hex SHA-256 of bytes [0, length) of an open file; length < 0 means to its end.
Result<std::string> Sha256OfFd(int fd, int64_t length = -1);

}  // namespace ferry
