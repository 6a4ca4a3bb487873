// How every command reports an error: one line (or ferry's own lines) on
// stderr, made safe for a terminal, and the exit status 1.
#pragma once

#include "core/status.h"

namespace ferry {

// Prints "ferry: <message>" on stderr and returns 1.
int Fail(const Status& s);

}  // namespace ferry
