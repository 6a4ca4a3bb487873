// Names in a tree, checked before a recursive transfer moves anything, so a
// name the other side refuses stops the transfer before it starts rather
// than halfway through the tree.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "client/connection.h"
#include "core/status.h"

namespace ferry {

// Collects the paths whose names are refused and words one error for all.
class RefusedNames {
 public:
  // How many paths the error names; the rest are counted.
  static constexpr size_t kShown = 3;

  // `path` (as the user knows it) is refused for `reason` (ValidateName's or
  // RelPath::Parse's message).
  void Add(const std::string& path, const std::string& reason);
  bool empty() const { return total_ == 0; }
  size_t total() const { return total_; }
  // OK when nothing was refused; otherwise INVALID_ARGUMENT, one line:
  // `nothing_done` ("put -r sent nothing"), how many names are `refusal`
  // ("not allowed on the server"), the first kShown paths (escaped for
  // display) and the first reason.
  Status ToStatus(const std::string& nothing_done, const std::string& refusal) const;

 private:
  std::vector<std::string> shown_;
  std::string first_reason_;
  size_t total_ = 0;
};

// Walks the local tree `local` as UploadTree sends it (directories and
// regular files, never through symlinks) and checks that each one's remote
// path under `remote` is one the server accepts (RelPath::Parse). Returns
// RefusedNames' error naming the offenders; OK for a file `local`.
Status CheckLocalTreeNames(const std::string& local, const std::string& remote);

}  // namespace ferry
