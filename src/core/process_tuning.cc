#include "core/process_tuning.h"

#include <malloc.h>

namespace ferry {

void TuneAllocatorForStreaming() {
  mallopt(M_MMAP_THRESHOLD, 16 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_ARENA_MAX, 2);
}

}  // namespace ferry
