#include "jobs/zip_format.h"

namespace ferry::jobs {

std::array<uint8_t, 5> EncodeExtendedTimestamp(int64_t mtime) {
  auto v = static_cast<uint32_t>(static_cast<int32_t>(mtime));
  return {0x01, static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
}

std::optional<int64_t> DecodeExtendedTimestamp(const uint8_t* data, size_t len) {
  if (data == nullptr || len < 5 || (data[0] & 0x01) == 0) return std::nullopt;
  uint32_t v = static_cast<uint32_t>(data[1]) | static_cast<uint32_t>(data[2]) << 8 |
               static_cast<uint32_t>(data[3]) << 16 | static_cast<uint32_t>(data[4]) << 24;
  return static_cast<int64_t>(static_cast<int32_t>(v));
}

}  // namespace ferry::jobs
