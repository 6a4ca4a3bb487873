// Sizes and rates as people write them on a command line ("10G", "512M",
// "1.5T", "0") and as ferry prints them in messages ("10.0 GiB").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry {

// A number of bytes with an optional suffix K, M, G or T (powers of 1024,
// either case, an optional trailing "B" or "iB"); INVALID_ARGUMENT naming the
// text otherwise. Zero is allowed; negative values and sizes past 2^62 are not.
Result<int64_t> ParseByteSize(std::string_view text);

// A transfer rate in bytes per second, written as a size ("500K", "10M",
// "1G"); "" is 0, meaning no limit. Zero itself is refused, as is anything
// ParseByteSize refuses.
Result<int64_t> ParseRate(std::string_view text);

// "812 B", "3.4 MiB", "10.0 GiB".
std::string FormatByteSize(int64_t bytes);

}  // namespace ferry
