// Sizes shared by both ends of a transfer. Memory per transfer is bounded by
// these: a chunk in flight on each side plus one flow-control window.
#pragma once

#include <cstdint>

namespace ferry {

// Bytes of file data per message.
inline constexpr int64_t kChunkBytes = 1 << 20;
// Largest message either end accepts (a chunk plus framing, with room to spare).
inline constexpr int kMaxMessageBytes = 8 << 20;
// A fixed HTTP/2 flow-control window per stream. gRPC's default probing grows
// windows without bound on a fast link, which let a receiver buffer over 100 MiB;
// 8 MiB keeps loopback and LAN transfers at full speed with flat memory.
inline constexpr int kStreamWindowBytes = 8 << 20;
// HTTP/2 frame size: larger frames mean fewer headers and syscalls per chunk.
inline constexpr int kMaxFrameBytes = 16 << 10;

}  // namespace ferry
