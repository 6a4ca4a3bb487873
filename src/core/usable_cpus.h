// How many CPUs this process may run on.
#pragma once

namespace ferry {

// The CPUs in this process's affinity mask (what `taskset` or a container's
// cpuset leaves it), which may be fewer than the machine has; at least 1.
int UsableCpus();

}  // namespace ferry
