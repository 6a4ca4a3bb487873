#include "client/tree_names.h"

#include <filesystem>

#include <fmt/format.h>

#include "client/file_client.h"
#include "core/display_text.h"
#include "core/rel_path.h"

namespace ferry {

void RefusedNames::Add(const std::string& path, const std::string& reason) {
  if (total_ == 0) first_reason_ = reason;
  if (shown_.size() < kShown) shown_.push_back(path);
  total_++;
}

Status RefusedNames::ToStatus(const std::string& nothing_done, const std::string& refusal) const {
  if (total_ == 0) return Status::Ok();
  std::string paths;
  for (const auto& p : shown_)
    paths += fmt::format("{}'{}'", paths.empty() ? "" : ", ", ForDisplay(p));
  if (total_ > shown_.size()) paths += fmt::format(" and {} more", total_ - shown_.size());
  return Status::InvalidArgument(fmt::format(
      "{}: {} {} {}: {} (the first: {}); rename {} and run again", nothing_done,
      total_ == 1 ? "1 name" : fmt::format("{} names", total_), total_ == 1 ? "is" : "are", refusal,
      paths, ForDisplay(first_reason_), total_ == 1 ? "it" : "them"));
}

Status CheckLocalTreeNames(const std::string& local, const std::string& remote) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(local, ec))) return Status::Ok();
  // The root's own name is the server's to judge (the first call refuses it).
  if (!RelPath::Parse(remote).ok()) return Status::Ok();
  RefusedNames refused;
  for (auto it = fs::recursive_directory_iterator(local, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink() || !(it->is_directory() || it->is_regular_file())) continue;
    std::string rel = fs::relative(it->path(), local, ec).generic_string();
    auto parsed = RelPath::Parse(JoinRemote(remote, rel));
    if (!parsed.ok()) refused.Add(it->path().string(), parsed.status().message());
  }
  if (ec) return Status::Internal(fmt::format("cannot read '{}': {}", local, ec.message()));
  return refused.ToStatus("put -r sent nothing", "not allowed on the server");
}

}  // namespace ferry
