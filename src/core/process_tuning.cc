#include "core/process_tuning.h"

#include <malloc.h>
#include <sys/resource.h>

#include <csignal>

#include <spdlog/spdlog.h>

namespace ferry {

void IgnoreBrokenPipes() { std::signal(SIGPIPE, SIG_IGN); }

void TuneAllocatorForStreaming() {
  mallopt(M_MMAP_THRESHOLD, 16 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_ARENA_MAX, 2);
}

long RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("cannot raise the open-file limit from {}", was);
      limit.rlim_cur = was;
    }
  }
  return limit.rlim_cur == RLIM_INFINITY ? 1L << 20 : static_cast<long>(limit.rlim_cur);
}

void ReturnFreeMemory() { malloc_trim(0); }

}  // namespace ferry
