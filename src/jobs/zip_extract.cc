// ExtractZip: checks every entry of an untrusted archive, then creates them
// beneath the staging directory, counting the bytes each entry really holds.
#include "jobs/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/display_text.h"
#include "core/home_fs.h"
#include "core/rel_path.h"
#include "core/unique_fd.h"
#include "jobs/job_control.h"
#include "jobs/zip_format.h"
#include "jobs/zip_layout.h"
#include "transfer/file_io.h"

namespace ferry::jobs {
namespace {

constexpr size_t kChunkBytes = 256 << 10;
// Archives declaring at most this much output are not held to the expansion
// ratio: headers dominate tiny archives, and their output costs nothing.
constexpr uint64_t kRatioExemptBytes = 1 << 20;

enum class Kind { kFile, kDirectory, kSymlink };

// One entry, checked and ready to create.
struct Planned {
  zip_uint64_t index = 0;
  std::string shown;  // the name as stored, safe to print
  RelPath path;
  Kind kind = Kind::kFile;
  uint64_t size = 0;  // declared uncompressed size
  mode_t mode = 0;
  int64_t mtime = 0;
  std::string target;  // symlinks
};

struct ZipDiscarder {
  void operator()(zip_t* za) const { zip_discard(za); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscarder>;
struct ZipFileCloser {
  void operator()(zip_file_t* zf) const { zip_fclose(zf); }
};
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileCloser>;

// Words a libzip error met while reading an entry's data.
Status EntryReadError(zip_error_t* error, const std::string& shown) {
  switch (zip_error_code_zip(error)) {
    case ZIP_ER_CRC:
      return Status::DataLoss(fmt::format("entry '{}' is corrupt (CRC mismatch)", shown));
    case ZIP_ER_COMPRESSED_DATA:
    case ZIP_ER_ZLIB:
      return Status::DataLoss(
          fmt::format("entry '{}' is corrupt (invalid compressed data)", shown));
    case ZIP_ER_INCONS:
      return Status::DataLoss(
          fmt::format("entry '{}' is corrupt (its data does not match its header)", shown));
    case ZIP_ER_EOF:
      return Status::DataLoss(
          fmt::format("entry '{}' is cut short: the archive is truncated", shown));
    case ZIP_ER_READ:
    case ZIP_ER_SEEK:
      return ErrnoStatus(zip_error_code_system(error),
                         fmt::format("cannot read entry '{}' from the archive", shown));
    case ZIP_ER_MEMORY:
      return Status::ResourceExhausted(
          fmt::format("out of memory while reading entry '{}'", shown));
    default:
      return Status::DataLoss(
          fmt::format("cannot read entry '{}': {}", shown, zip_error_strerror(error)));
  }
}

Status OpenError(int code) {
  switch (code) {
    case ZIP_ER_NOZIP:
      return Status::InvalidArgument("not a ZIP archive (or a truncated one)");
    case ZIP_ER_INCONS:
      return Status::DataLoss(
          "the ZIP archive is damaged: its central directory does not match its entries");
    case ZIP_ER_MULTIDISK:
      return Status::InvalidArgument("multi-part (split) ZIP archives are not supported");
    case ZIP_ER_EXISTS:
      return Status::InvalidArgument("the ZIP archive has two entries with the same name");
    case ZIP_ER_MEMORY:
      return Status::ResourceExhausted("out of memory while opening the ZIP archive");
    default: {
      zip_error_t error;
      zip_error_init_with_code(&error, code);
      Status s = Status::InvalidArgument(
          fmt::format("cannot open the ZIP archive: {}", zip_error_strerror(&error)));
      zip_error_fini(&error);
      return s;
    }
  }
}

// ZIP_CHECKCONS refuses duplicate names without saying which; this finds it.
Status DuplicateNameError(int archive_fd) {
  Status generic = OpenError(ZIP_ER_EXISTS);
  int fd = ::dup(archive_fd);
  if (fd < 0) return generic;
  int code = 0;
  ZipPtr za(zip_fdopen(fd, ZIP_RDONLY, &code));
  if (!za) {
    ::close(fd);
    return generic;
  }
  std::unordered_set<std::string> seen;
  zip_int64_t count = zip_get_num_entries(za.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* name = zip_get_name(za.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name != nullptr && !seen.insert(name).second) {
      return Status::InvalidArgument(
          fmt::format("the archive has more than one entry named '{}'", ForDisplay(name)));
    }
  }
  return generic;
}

// Reads the data of `entry`, handing it to `sink` chunk by chunk. Fails as soon
// as the entry produces more than it declares, and when it ends short.
template <typename Sink>
Status ReadEntry(zip_t* za, const Planned& entry, const JobControl& control,
                 std::vector<char>& buffer, Sink&& sink) {
  ZipFilePtr zf(zip_fopen_index(za, entry.index, 0));
  if (!zf) return EntryReadError(zip_get_error(za), entry.shown);
  uint64_t produced = 0;
  for (;;) {
    FERRY_RETURN_IF_ERROR(CheckStop(control));
    // Ask for one byte past the declared size, to catch an entry that lies.
    uint64_t want = std::min<uint64_t>(buffer.size(), entry.size - produced + 1);
    zip_int64_t n = zip_fread(zf.get(), buffer.data(), want);
    if (n < 0) return EntryReadError(zip_file_get_error(zf.get()), entry.shown);
    if (n == 0) break;
    produced += static_cast<uint64_t>(n);
    if (produced > entry.size) {
      return Status::DataLoss(
          fmt::format("entry '{}' is corrupt: it holds more data than the {} bytes it declares",
                      entry.shown, entry.size));
    }
    FERRY_RETURN_IF_ERROR(sink(buffer.data(), static_cast<size_t>(n)));
  }
  if (produced < entry.size) {
    return Status::DataLoss(
        fmt::format("entry '{}' is corrupt: it holds {} of the {} bytes it declares", entry.shown,
                    produced, entry.size));
  }
  return Status::Ok();
}

// Checks a symlink target: relative, clean, and without "..". A target that
// never climbs resolves beneath the link's own directory wherever in the home
// the link is later moved, so it cannot come to name another user's file; a
// target with ".." can, whatever it resolves to at extraction time.
Status CheckSymlinkTarget(const Planned& link) {
  const std::string& target = link.target;
  if (target.empty()) {
    return Status::InvalidArgument(fmt::format("symlink entry '{}' has no target", link.shown));
  }
  if (target.front() == '/') {
    return Status::InvalidArgument(
        fmt::format("symlink entry '{}' points outside the destination ('{}')", link.shown,
                    ForDisplay(target)));
  }
  if (target.find('\\') != std::string::npos) {
    return Status::InvalidArgument(fmt::format(
        "symlink entry '{}' has a target with a backslash ('{}')", link.shown, ForDisplay(target)));
  }
  for (size_t start = 0; start <= target.size();) {
    size_t end = std::min(target.find('/', start), target.size());
    std::string_view part = std::string_view(target).substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return Status::InvalidArgument(fmt::format(
          "symlink entry '{}' has '..' in its target ('{}'): moved elsewhere, such a link could "
          "point outside your home, so ferry unpacks only links that point down from where "
          "they are",
          link.shown, ForDisplay(target)));
    }
    Status valid = ValidateName(part);
    if (!valid.ok()) {
      return Status::InvalidArgument(
          fmt::format("symlink entry '{}' has a bad target: {}", link.shown, valid.message()));
    }
  }
  return Status::Ok();
}

// The checks that need no data: name, method, encryption, type.
Result<Planned> PlanEntry(zip_t* za, zip_uint64_t index) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(za, index, 0, &st) != 0 || (st.valid & ZIP_STAT_NAME) == 0) {
    return Status::DataLoss(fmt::format("cannot read entry {} of the archive: {}", index,
                                        zip_error_strerror(zip_get_error(za))));
  }
  Planned e;
  e.index = index;
  std::string name = st.name;
  e.shown = ForDisplay(name);
  // Names without the UTF-8 flag that are not UTF-8 either are taken as CP437,
  // as the format says, and libzip converts them; it would also turn control
  // characters into CP437 glyphs, which ferry refuses instead.
  if (const char* raw = zip_get_name(za, index, ZIP_FL_ENC_RAW)) {
    for (const char* c = raw; *c != '\0'; ++c) {
      if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f) {
        return Status::InvalidArgument(
            fmt::format("entry '{}' contains a control character", ForDisplay(raw)));
      }
    }
  }
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
    return Status::InvalidArgument(
        fmt::format("entry '{}' is encrypted; ferry cannot unpack encrypted archives", e.shown));
  }
  if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
    return Status::InvalidArgument(fmt::format(
        "entry '{}' uses an unsupported compression method ({}); only stored and deflated "
        "entries can be unpacked",
        e.shown, st.comp_method));
  }
  if (name.find('\\') != std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("entry '{}' contains a backslash, which Windows tools use as a path separator; "
                    "ferry does not unpack such names",
                    e.shown));
  }
  auto path = RelPath::Parse(name);
  if (!path.ok()) {
    return Status::InvalidArgument(
        fmt::format("entry '{}' is not a safe path: {}", e.shown, path.status().message()));
  }
  if (path->IsRoot()) {
    return Status::InvalidArgument(fmt::format("entry '{}' names the destination itself", e.shown));
  }
  e.path = std::move(path).value();
  e.size = st.size;
  e.mtime = (st.valid & ZIP_STAT_MTIME) ? st.mtime : 0;

  zip_uint8_t opsys = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(za, index, 0, &opsys, &attributes) != 0) {
    opsys = 0;
    attributes = 0;
  }
  mode_t unix_mode = opsys == ZIP_OPSYS_UNIX ? static_cast<mode_t>(attributes >> 16) : 0;
  const bool slash = name.back() == '/';
  // Some tools mark directories only by the MS-DOS attribute (0x10), without the slash.
  const bool dos_dir = (attributes & 0x10) != 0 && unix_mode == 0;
  if (slash || ((S_ISDIR(unix_mode) || dos_dir) && e.size == 0)) {
    e.kind = Kind::kDirectory;
  } else if (S_ISLNK(unix_mode)) {
    e.kind = Kind::kSymlink;
  }
  if (e.kind == Kind::kDirectory && e.size != 0) {
    return Status::InvalidArgument(
        fmt::format("directory entry '{}' holds {} bytes of data", e.shown, e.size));
  }
  // No setuid, setgid or sticky bits, nothing writable by others; the owner can
  // always read, and enter and change directories (so the tree can be moved).
  mode_t perms = unix_mode & 0755;
  if (unix_mode == 0) perms = e.kind == Kind::kDirectory ? 0755 : 0644;
  e.mode = e.kind == Kind::kDirectory ? (perms | 0700) : (perms | 0400);

  zip_uint16_t len = 0;
  for (zip_flags_t where : {ZIP_FL_CENTRAL, ZIP_FL_LOCAL}) {
    const zip_uint8_t* field =
        zip_file_extra_field_get_by_id(za, index, kExtendedTimestampId, 0, &len, where);
    if (auto t = DecodeExtendedTimestamp(field, len)) {
      e.mtime = *t;
      break;
    }
  }
  return e;
}

// Tracks every name the archive creates, implicit parent directories included,
// so duplicates and entries beneath files or symlinks are caught up front.
class NameTree {
 public:
  Status Add(const Planned& e) {
    std::string key;
    const auto& parts = e.path.parts();
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (i > 0) key += '/';
      key += parts[i];
      auto [it, fresh] = nodes_.emplace(key, Node{Kind::kDirectory, false});
      if (!fresh && it->second.kind != Kind::kDirectory) {
        return Status::InvalidArgument(
            fmt::format("entry '{}' lies beneath '{}', which the archive has as a {}", e.shown,
                        ForDisplay(key), it->second.kind == Kind::kSymlink ? "symlink" : "file"));
      }
    }
    if (!key.empty()) key += '/';
    key += parts.back();
    auto [it, fresh] = nodes_.emplace(key, Node{e.kind, true});
    if (fresh) return Status::Ok();
    if (!it->second.explicit_entry && e.kind == Kind::kDirectory) {
      it->second.explicit_entry = true;
      return Status::Ok();
    }
    return Status::InvalidArgument(
        fmt::format("the archive has more than one entry named '{}'", ForDisplay(key)));
  }

 private:
  struct Node {
    Kind kind;
    bool explicit_entry;  // false: only implied by entries beneath it
  };
  std::unordered_map<std::string, Node> nodes_;
};

// Creates directories beneath the destination, remembering the last one opened.
class DirMaker {
 public:
  explicit DirMaker(int dest_fd) : dest_fd_(dest_fd) {}

  // The directory `path` (created with its parents if missing), open.
  Result<int> Open(const RelPath& path) {
    if (cached_.valid() && cached_path_ == path) return cached_.get();
    UniqueFd cur(::dup(dest_fd_));
    if (!cur.valid()) return ErrnoStatus(errno, "dup");
    RelPath done;
    for (const auto& part : path.parts()) {
      done = done.Child(part);
      if (::mkdirat(cur.get(), part.c_str(), 0700) != 0 && errno != EEXIST) {
        return PathError(errno, done.Display());
      }
      auto next = OpenBeneath(cur.get(), part, O_RDONLY | O_DIRECTORY, 0, done.Display());
      if (!next.ok()) return next.status();
      cur = std::move(next).value();
    }
    cached_ = std::move(cur);
    cached_path_ = path;
    return cached_.get();
  }

 private:
  const int dest_fd_;
  RelPath cached_path_;
  UniqueFd cached_;
};

Status SetTimes(int fd, int64_t mtime, const std::string& display) {
  struct timespec times[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
  if (::futimens(fd, times) != 0) return PathError(errno, display);
  return Status::Ok();
}

class Extractor {
 public:
  Extractor(zip_t* za, int dest_fd, JobControl& control)
      : za_(za), dest_fd_(dest_fd), control_(control), dirs_(dest_fd), buffer_(kChunkBytes) {}

  Status Plan(const UnzipLimits& limits) {
    zip_int64_t count = zip_get_num_entries(za_, 0);
    if (count < 0) return Status::Internal("cannot count the archive's entries");
    if (static_cast<uint64_t>(count) > limits.max_entries) {
      return Status::InvalidArgument(fmt::format(
          "the archive has {} entries; ferry unpacks at most {}", count, limits.max_entries));
    }
    NameTree names;
    for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
      FERRY_RETURN_IF_ERROR(CheckStop(control_));
      auto e = PlanEntry(za_, i);
      if (!e.ok()) return e.status();
      FERRY_RETURN_IF_ERROR(names.Add(*e));
      if (e->size > limits.max_total_bytes - std::min(total_, limits.max_total_bytes)) {
        return Status::InvalidArgument(
            fmt::format("the archive unpacks to more than {} bytes, the limit (at entry '{}')",
                        limits.max_total_bytes, e->shown));
      }
      total_ += e->size;
      if (e->kind == Kind::kSymlink) FERRY_RETURN_IF_ERROR(ReadTarget(*e));
      plan_.push_back(std::move(e).value());
    }
    return Status::Ok();
  }

  // Refuses output out of proportion to the archive (`archive_bytes` long),
  // above the job's budget, or above the destination's free space.
  Status CheckCost(const UnzipLimits& limits, uint64_t archive_bytes) const {
    if (limits.max_ratio > 0 && total_ > kRatioExemptBytes &&
        total_ / limits.max_ratio >= std::max<uint64_t>(archive_bytes, 1)) {
      return Status::ResourceExhausted(fmt::format(
          "the archive declares {} bytes of output from {} bytes, more than {} times its size "
          "(a zip bomb?); ferry does not unpack it (the limit is --unzip-max-ratio)",
          total_, archive_bytes, limits.max_ratio));
    }
    if (limits.max_output_bytes > 0 && total_ > limits.max_output_bytes) {
      return Status::ResourceExhausted(
          fmt::format("the archive unpacks to {} bytes, more than the {} bytes this job may write "
                      "(what is left of your storage quota)",
                      total_, limits.max_output_bytes));
    }
    if (limits.check_free_space) {
      struct statvfs fs {};
      if (::fstatvfs(dest_fd_, &fs) != 0) {
        return ErrnoStatus(errno, "cannot check the free space for the archive");
      }
      uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
      if (total_ > free_bytes) {
        return Status::ResourceExhausted(
            fmt::format("the archive unpacks to {} bytes, more than the {} bytes free on the "
                        "server's disk",
                        total_, free_bytes));
      }
    }
    return Status::Ok();
  }

  Status Create() {
    control_.SetTotal(total_);
    for (const Planned& e : plan_) {
      FERRY_RETURN_IF_ERROR(CheckStop(control_));
      switch (e.kind) {
        case Kind::kDirectory: {
          auto fd = dirs_.Open(e.path);
          if (!fd.ok()) return fd.status();
          break;
        }
        case Kind::kFile:
          FERRY_RETURN_IF_ERROR(CreateFile(e));
          break;
        case Kind::kSymlink:
          FERRY_RETURN_IF_ERROR(CreateSymlink(e));
          break;
      }
    }
    return FinishDirectories();
  }

 private:
  Status ReadTarget(Planned& link) {
    if (link.size > kMaxPathBytes) {
      return Status::InvalidArgument(
          fmt::format("symlink entry '{}' has a target of {} bytes, longer than a path", link.shown,
                      link.size));
    }
    FERRY_RETURN_IF_ERROR(ReadEntry(za_, link, control_, buffer_, [&](const char* data, size_t n) {
      link.target.append(data, n);
      return Status::Ok();
    }));
    if (link.target.find('\0') != std::string::npos) {
      return Status::InvalidArgument(
          fmt::format("symlink entry '{}' has a NUL byte in its target", link.shown));
    }
    return CheckSymlinkTarget(link);
  }

  Status CreateFile(const Planned& e) {
    auto dir = dirs_.Open(e.path.Parent());
    if (!dir.ok()) return dir.status();
    auto fd = OpenBeneath(*dir, e.path.Leaf(), O_WRONLY | O_CREAT | O_EXCL, 0600, e.path.Display());
    if (!fd.ok()) return fd.status();
    int64_t offset = 0;
    Status s = ReadEntry(za_, e, control_, buffer_, [&](const char* data, size_t n) -> Status {
      Status written = WriteFullAt(fd->get(), data, n, offset,
                                   fmt::format("cannot write '{}'", e.path.Display()));
      offset += static_cast<int64_t>(n);
      control_.Advance(n);
      return written;
    });
    if (s.ok() && ::fchmod(fd->get(), e.mode) != 0) s = PathError(errno, e.path.Display());
    if (s.ok()) s = SetTimes(fd->get(), e.mtime, e.path.Display());
    // A corrupt or cancelled entry leaves no half-written file behind.
    if (!s.ok()) ::unlinkat(*dir, e.path.Leaf().c_str(), 0);
    return s;
  }

  Status CreateSymlink(const Planned& e) {
    auto dir = dirs_.Open(e.path.Parent());
    if (!dir.ok()) return dir.status();
    if (::symlinkat(e.target.c_str(), *dir, e.path.Leaf().c_str()) != 0) {
      return PathError(errno, e.path.Display());
    }
    struct timespec times[2] = {{static_cast<time_t>(e.mtime), 0},
                                {static_cast<time_t>(e.mtime), 0}};
    ::utimensat(*dir, e.path.Leaf().c_str(), times, AT_SYMLINK_NOFOLLOW);  // cosmetic
    control_.Advance(e.size);
    return Status::Ok();
  }

  // Directory modes and times last, deepest first: creating entries inside a
  // directory changes its mtime, and a read-only mode would block them.
  Status FinishDirectories() {
    std::vector<const Planned*> dirs;
    for (const Planned& e : plan_) {
      if (e.kind == Kind::kDirectory) dirs.push_back(&e);
    }
    std::stable_sort(dirs.begin(), dirs.end(), [](const Planned* a, const Planned* b) {
      return a->path.parts().size() > b->path.parts().size();
    });
    for (const Planned* e : dirs) {
      auto fd =
          OpenBeneath(dest_fd_, e->path.Relative(), O_RDONLY | O_DIRECTORY, 0, e->path.Display());
      if (!fd.ok()) return fd.status();
      if (::fchmod(fd->get(), e->mode) != 0) return PathError(errno, e->path.Display());
      FERRY_RETURN_IF_ERROR(SetTimes(fd->get(), e->mtime, e->path.Display()));
    }
    return Status::Ok();
  }

  zip_t* const za_;
  const int dest_fd_;
  JobControl& control_;
  DirMaker dirs_;
  std::vector<char> buffer_;
  std::vector<Planned> plan_;
  uint64_t total_ = 0;
};

}  // namespace

Status ExtractZip(int archive_fd, int dest_dir_fd, JobControl& control, const UnzipLimits& limits) {
  struct stat st {};
  if (::fstat(archive_fd, &st) != 0) return ErrnoStatus(errno, "cannot stat the archive");
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("the archive is not a regular file");
  // libzip would take an empty file for an empty archive.
  if (st.st_size == 0) return Status::InvalidArgument("not a ZIP archive (the file is empty)");
  int fd = ::dup(archive_fd);
  if (fd < 0) return ErrnoStatus(errno, "dup");
  int code = 0;
  zip_t* raw = zip_fdopen(fd, ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (raw == nullptr && code == ZIP_ER_INCONS) {
    // Info-ZIP writing to a pipe puts the uncompressed size into local headers
    // whose CRC and compressed size follow in a data descriptor, and libzip
    // 1.7.3's ZIP_CHECKCONS calls that inconsistent although unzip and libzip
    // read it fine. Nothing below trusts the local headers: names, sizes and
    // methods come from the central directory and are checked, and every
    // entry's data is counted and CRC-checked as it is read.
    raw = zip_fdopen(fd, ZIP_RDONLY, &code);
  }
  if (raw == nullptr) {
    ::close(fd);  // zip_fdopen owns it only on success
    if (code == ZIP_ER_EXISTS) return DuplicateNameError(archive_fd);
    return OpenError(code);
  }
  ZipPtr za(raw);
  // libzip reads entries where the central directory says, even when several
  // share bytes; the layout check refuses that before anything is planned.
  auto layout =
      ReadZipLayout(FdZipBytes(archive_fd, static_cast<uint64_t>(st.st_size)), limits.max_entries);
  if (!layout.ok()) return layout.status();
  Extractor extractor(za.get(), dest_dir_fd, control);
  FERRY_RETURN_IF_ERROR(extractor.Plan(limits));
  FERRY_RETURN_IF_ERROR(extractor.CheckCost(limits, static_cast<uint64_t>(st.st_size)));
  return extractor.Create();
}

}  // namespace ferry::jobs
