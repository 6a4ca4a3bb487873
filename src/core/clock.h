// A steady clock that tests can replace with a fake one.
#pragma once

#include <chrono>
#include <functional>

namespace ferry {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

inline SteadyClock RealSteadyClock() {
  return [] { return std::chrono::steady_clock::now(); };
}

}  // namespace ferry
