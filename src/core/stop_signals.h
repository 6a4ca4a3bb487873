// SIGINT and SIGTERM, taken synchronously by one thread of a long-running
// command (server, worker) rather than by whichever thread they land on.
#pragma once

#include <signal.h>

namespace ferry {

// Blocks SIGINT and SIGTERM in the calling thread and the threads it starts
// afterwards; returns the set, for sigwait.
sigset_t BlockStopSignals();

}  // namespace ferry
