// Validation of client-supplied paths. A RelPath names something strictly beneath
// a root directory: it has no absolute prefix, no "..", no NUL or control
// characters, valid UTF-8 and bounded lengths. Validation is purely lexical; the
// filesystem side (symlinks) is enforced by HomeFs when the path is opened.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ferry {

inline constexpr size_t kMaxNameBytes = 255;   // one component (NAME_MAX)
inline constexpr size_t kMaxPathBytes = 4095;  // whole path (PATH_MAX - 1)
inline constexpr size_t kMaxComponents = 256;

class RelPath {
 public:
  // The root itself (the empty path).
  RelPath() = default;

  // Accepts "a/b/c", "a//b/", "./a"; "" and "." are the root. Refuses absolute
  // paths, "..", NUL and control characters, invalid UTF-8 and over-long names,
  // with INVALID_ARGUMENT and a message naming the problem.
  static Result<RelPath> Parse(std::string_view raw);

  bool IsRoot() const { return parts_.empty(); }
  const std::vector<std::string>& parts() const { return parts_; }
  // "a/b/c" ("." for the root): what is passed to *at() syscalls.
  std::string Relative() const;
  // "/a/b/c" ("/" for the root): how the path is shown to the user, whose home is "/".
  std::string Display() const;
  // The last component; REQUIRES: !IsRoot().
  const std::string& Leaf() const { return parts_.back(); }
  // Everything but the last component; REQUIRES: !IsRoot().
  RelPath Parent() const;
  RelPath Child(const std::string& name) const;
  // True if `this` is `other` or lies beneath it.
  bool IsWithin(const RelPath& other) const;

  bool operator==(const RelPath&) const = default;

 private:
  std::vector<std::string> parts_;
};

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Checks one file name (no '/'); the rules RelPath::Parse applies per component.
Status ValidateName(std::string_view name);

}  // namespace ferry
