// Pieces of the ZIP format (PKWARE APPNOTE, Info-ZIP extra fields) that libzip
// leaves to its callers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ferry::jobs {

// The Info-ZIP "extended timestamp" extra field ("UT"): a flags byte, then the
// modification time (bit 0) as seconds since the epoch, signed 32-bit little
// endian. Unlike the DOS date it has one-second precision and no time zone.
inline constexpr uint16_t kExtendedTimestampId = 0x5455;

// The field with only the modification time. REQUIRES: mtime fits in int32.
std::array<uint8_t, 5> EncodeExtendedTimestamp(int64_t mtime);
// The modification time in a local or central "UT" field, if it has one.
std::optional<int64_t> DecodeExtendedTimestamp(const uint8_t* data, size_t len);

}  // namespace ferry::jobs
