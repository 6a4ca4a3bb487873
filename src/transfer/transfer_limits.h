// Sizes shared by both ends of a transfer. Memory per transfer is bounded by
// these: a few chunks in flight on each side plus one flow-control window.
#pragma once

#include <cstdint>

namespace ferry {

// Bytes of file data per message, and the size of the chunk grid: chunk i of
// a file is its bytes [i * kChunkBytes, min((i + 1) * kChunkBytes, size)).
// Per-chunk SHA-256s are of grid chunks, so they do not depend on the range
// a reader asked for. docs/protocol.md states this size; it is part of the
// wire format.
inline constexpr int64_t kChunkBytes = 1 << 20;
// Largest message either end accepts (a chunk plus framing, with room to spare).
inline constexpr int kMaxMessageBytes = 8 << 20;
// A fixed HTTP/2 flow-control window per stream. gRPC's default probing grows
// windows without bound on a fast link, which lets a receiver buffer far more
// than a window; 8 MiB keeps loopback and LAN transfers at full speed with
// flat memory.
inline constexpr int kStreamWindowBytes = 8 << 20;
// HTTP/2 frame size: larger frames mean fewer headers and syscalls per chunk.
inline constexpr int kMaxFrameBytes = 16 << 10;

// Files.PutFiles and Files.GetFiles (docs/protocol.md, "Small files in
// batches"): a file in a batch holds at most this much, and a PutFiles
// message or a GetFiles call names at most kWholeFilesMax files.
inline constexpr int64_t kWholeFileMaxBytes = int64_t{1} << 20;
inline constexpr int kWholeFilesMax = 1000;

// Number of grid chunks of a file of `size` bytes.
inline constexpr int64_t ChunkCount(int64_t size) { return (size + kChunkBytes - 1) / kChunkBytes; }
// Index of the grid chunk holding byte `offset`.
inline constexpr int64_t ChunkIndex(int64_t offset) { return offset / kChunkBytes; }

}  // namespace ferry
