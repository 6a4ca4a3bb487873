// libFuzzer target for reading a ZIP archive's layout (jobs/zip_layout.h): the
// end record, ZIP64 records, central directory entries and local headers of an
// untrusted archive, and the overlap check unzip relies on.
//
// Input: the archive's bytes. Any outcome is fine except a crash, an
// unexpected status code, or an accepted layout that breaks its promise:
// every entry before the central directory, no two sharing a byte.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "jobs/zip_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto layout = ferry::jobs::ReadZipLayout(ferry::jobs::MemoryZipBytes(bytes), 10000);
  if (!layout.ok()) {
    ferry::Code code = layout.status().code();
    if (code != ferry::Code::kInvalidArgument && code != ferry::Code::kFailedPrecondition) {
      std::fprintf(stderr, "unexpected status: %s\n", layout.status().ToString().c_str());
      std::abort();
    }
    return 0;
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& e : layout->entries) {
    if (e.local_offset >= e.data_end || e.data_end > layout->central_directory_offset ||
        layout->central_directory_offset > size) {
      std::fprintf(stderr, "entry outside the archive's entries\n");
      std::abort();
    }
    ranges.emplace_back(e.local_offset, e.data_end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      std::fprintf(stderr, "overlapping entries accepted\n");
      std::abort();
    }
  }
  return 0;
}
