// Process-wide settings that streaming large files, and long-running
// processes, depend on.
#pragma once

namespace ferry {

// Keeps glibc from mmap()ing and unmapping every 1 MiB transfer buffer: without
// this, each chunk costs fresh page faults and page zeroing, which profiling
// showed to be a third of a transfer's CPU time. Also caps the number of malloc
// arenas, so gRPC's many threads do not multiply the resident set.
// Call once, first thing in main().
void TuneAllocatorForStreaming();

// A write to a socket or pipe whose reader has gone fails with EPIPE, which
// the writer handles, instead of raising SIGPIPE, which kills the process:
// OpenSSL (under cpp-httplib's TLS client) writes with write(2), so a
// directory that closed a kept-alive connection would otherwise kill the
// peer that next writes to it. Call once, first thing in main().
void IgnoreBrokenPipes();

// Every open connection is a descriptor, and idle ones cost nothing else, so
// the soft limit (often 1024) would be the number of clients that can stay
// connected: raises it to the hard limit, as servers commonly do. Returns the
// soft limit in force afterwards.
long RaiseDescriptorLimit();

// Gives the memory that freed allocations left in malloc's arenas back to the
// system, so a burst (many calls at once, an attack) does not keep the
// resident set at its peak. Cheap when there is little to return.
void ReturnFreeMemory();

}  // namespace ferry
