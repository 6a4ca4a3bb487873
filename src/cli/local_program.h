// Runs a program on the local machine for `ferry shell` (lls, !cmd) in the
// foreground, on the same terminal.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace ferry {

// Runs argv[0] (looked up in PATH) with argv and waits for it. Ctrl-C and
// Ctrl-\ reach the program, not ferry; the program starts with the default
// handling of SIGINT, SIGQUIT and SIGPIPE. Returns its exit status, or 128 +
// the signal that ended it; NOT_FOUND when it cannot be started.
// REQUIRES: !argv.empty().
Result<int> RunLocalProgram(const std::vector<std::string>& argv);

}  // namespace ferry
