#include "core/byte_size.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace ferry {

Result<int64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format(
        "'{}' is not a size like 0, 500M, 10G or 1.5T (K, M, G, T are powers of 1024)", text));
  };
  std::string digits;
  size_t i = 0;
  for (; i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.');
       ++i) {
    digits += text[i];
  }
  if (digits.empty() || digits.front() == '.' || digits.back() == '.') return bad();
  std::string unit(text.substr(i));
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && (unit.ends_with("IB") || unit.ends_with("B"))) {
    unit.resize(unit.size() - (unit.ends_with("IB") ? 2 : 1));
  }
  double scale = unit.empty() || unit == "B" ? 1
                 : unit == "K"               ? 1024.0
                 : unit == "M"               ? std::pow(1024.0, 2)
                 : unit == "G"               ? std::pow(1024.0, 3)
                 : unit == "T"               ? std::pow(1024.0, 4)
                                             : -1;
  if (scale < 0) return bad();
  char* end = nullptr;
  double value = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size()) return bad();
  double bytes = std::round(value * scale);
  if (bytes > std::pow(2.0, 62)) return bad();
  return static_cast<int64_t>(bytes);
}

Result<int64_t> ParseRate(std::string_view text) {
  if (text.empty()) return int64_t{0};
  Result<int64_t> bytes = ParseByteSize(text);
  if (!bytes.ok() || *bytes == 0) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not a rate like 500K, 10M or 1G (bytes per second)", text));
  }
  return bytes;
}

std::string FormatByteSize(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (std::fabs(value) >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    unit++;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

}  // namespace ferry
