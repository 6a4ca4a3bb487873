// Human-readable logging (spdlog): stderr, plus a rotating file when asked.
#pragma once

#include <string>

#include "core/status.h"

namespace ferry {

// Sets up the default logger. `file` may be empty (stderr only).
Status InitLogging(const std::string& file, bool verbose);

}  // namespace ferry
