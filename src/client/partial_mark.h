// ferry's mark on the LOCAL.part of a download. `get` writes into LOCAL.part so
// an interrupted download can resume, but a file of that name may be someone
// else's: a browser's partial download, or a name a hostile server listed in a
// tree ("x.part" before "x"). So ferry appends to, truncates or deletes only a
// .part that carries its mark: an extended attribute naming the server and the
// remote file the .part holds a prefix of.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ferry {

inline constexpr char kPartialMarkAttr[] = "user.ferry.partial";

struct PartialMark {
  std::string server;  // as the connection was asked for (Connection::server())
  std::string remote;  // the remote path as requested
  // The remote file's size and modification time, once its first message said;
  // size -1: not known yet.
  int64_t size = -1;
  int64_t mtime_ns = 0;

  bool operator==(const PartialMark&) const = default;
};

// The attribute's value: a few "key value" lines, readable with getfattr.
std::string EncodeMark(const PartialMark& mark);
// nullopt for anything EncodeMark did not produce.
std::optional<PartialMark> DecodeMark(std::string_view value);

// True if a .part marked `found` belongs to the download `wanted` describes
// (same server, same remote path): only then may it be resumed.
bool SameDownload(const PartialMark& found, const PartialMark& wanted);
// True unless `found` recorded a version of the remote file (size, mtime) other
// than the one now being sent; then its bytes are a prefix of something else.
bool SameVersion(const PartialMark& found, int64_t size, int64_t mtime_ns);

// Records `mark` on an open .part. False (not an error) if the file system keeps
// no user extended attributes: the download still works, it just cannot be
// told from someone else's file later.
Result<bool> WriteMark(int fd, const PartialMark& mark);
// Drops the mark from a finished file, so it never passes for a partial.
void RemoveMark(int fd);

// A LOCAL.part that ferry may write.
struct PartialFile {
  UniqueFd fd;
  int64_t length = 0;     // bytes already held: where the download resumes
  PartialMark mark;       // what the file is marked with (size -1 if not known yet)
  bool marked = false;    // false: unmarkable, so a failed attempt should not keep it
  bool replaced = false;  // a file ferry did not make was removed to make room
};

// Opens `part` for the download `wanted`: resumes ferry's own partial of the
// same download, or creates a new, marked one. Anything else in the way
// (unmarked, marked for another download, a symlink, a FIFO...) is refused with
// FAILED_PRECONDITION, or with `replace` unlinked and replaced by a new file;
// never truncated in place, as it may be linked elsewhere.
Result<PartialFile> OpenPartial(const std::string& part, const PartialMark& wanted, bool replace);

}  // namespace ferry
