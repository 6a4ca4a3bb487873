// The names the peer gives its own files inside a share or downloads folder:
// a download in progress and its record of verified chunks, and any other
// temporary file. Every such name starts with kOwnFilePrefix, so one rule
// keeps them all out of the share index (a partial download must never be
// announced), whatever the downloader adds later.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

// Hidden, and unlikely to be a name a person chose.
inline constexpr std::string_view kOwnFilePrefix = ".ferry-";
// A download in progress: ".ferry-<name>.part".
inline constexpr std::string_view kPartialSuffix = ".part";

// The partial file of a download that ends as `leaf` (one file name, no '/').
inline std::string PartialFileName(std::string_view leaf) {
  return std::string(kOwnFilePrefix) + std::string(leaf) + std::string(kPartialSuffix);
}

// True for a name the peer made for itself: such files are never shared.
inline bool IsOwnFileName(std::string_view leaf) { return leaf.starts_with(kOwnFilePrefix); }

}  // namespace ferry
