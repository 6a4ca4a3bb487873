// Process-wide settings that streaming large files depends on.
#pragma once

namespace ferry {

// Keeps glibc from mmap()ing and unmapping every 1 MiB transfer buffer: without
// this, each chunk costs fresh page faults and page zeroing, which profiling
// showed to be a third of a transfer's CPU time. Also caps the number of malloc
// arenas, so gRPC's many threads do not multiply the resident set.
// Call once, first thing in main().
void TuneAllocatorForStreaming();

}  // namespace ferry
