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
// Sequential versions for descriptors that cannot seek (pipes, terminals):
// ReadFull returns fewer than `size` bytes only at the end of the input;
// WriteFull writes all `size` bytes. Errors keep their errno in ErrnoStatus's
// wording ("<what>: <strerror>"); WriteFull reports EPIPE (the reader went
// away; SIGPIPE is ignored, core/process_tuning.h) as ABORTED with
// kReaderGone as its message.
inline constexpr std::string_view kReaderGone = "the output's reader went away (broken pipe)";
Result<size_t> ReadFull(int fd, char* buf, size_t size, std::string_view what);
Status WriteFull(int fd, const char* data, size_t size, std::string_view what);
// True for WriteFull's broken-pipe status.
bool IsReaderGone(const Status& s);
// Gives the open file its modification time, `mtime_ns` nanoseconds since
// the epoch (0 leaves it as it is); the access time is left alone.
Status SetModificationTime(int fd, int64_t mtime_ns, std::string_view what);
// Feeds bytes [0, length) of `fd` into `hash`; length < 0 means to the end.
// DATA_LOSS if the file is shorter than `length`.
Status HashFile(int fd, int64_t length, Sha256& hash);
// Hex SHA-256 of bytes [0, length) of an open file; length < 0 means to its end.
Result<std::string> Sha256OfFd(int fd, int64_t length = -1);

}  // namespace ferry
