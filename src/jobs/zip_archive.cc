// WriteZip: walks the named paths, then lets libzip lay out the archive on the
// output fd while a DeflatePipeline compresses file data on helper threads.
// Each file is handed to libzip as a source that already holds deflate data
// (its ZIP_SOURCE_STAT says comp_method = ZIP_CM_DEFLATE), which libzip copies
// without recompressing; the CRC and compressed size are reported once the
// data has been read, which is when libzip asks for them.
#include "jobs/zip_archive.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "core/display_text.h"
#include "core/home_fs.h"
#include "core/rel_path.h"
#include "core/usable_cpus.h"
#include "jobs/job_control.h"
#include "jobs/zip_deflate_pipeline.h"
#include "jobs/zip_fd_sink.h"
#include "jobs/zip_format.h"

namespace ferry::jobs {
namespace {

// One archive entry, as found by the walk.
struct Item {
  std::string name;  // entry name; directories end in '/'
  RelPath path;      // beneath the home
  bool is_dir = false;
  uint64_t size = 0;
  int64_t mtime = 0;  // seconds
  uint32_t mode = 0;  // permission bits
};

// Collects the entries for the named paths, depth first, sorted by name.
class Walker {
 public:
  Walker(const HomeFs& home, const struct stat& out, const JobControl& control)
      : home_(home), out_(out), control_(control) {}

  Status AddTop(const RelPath& path) {
    auto parent = home_.OpenParent(path);
    if (!parent.ok()) return parent.status();
    struct stat st {};
    if (::fstatat(parent->dir.get(), parent->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return PathError(errno, path.Display());
    }
    if (S_ISLNK(st.st_mode)) {
      return Status::FailedPrecondition(fmt::format(
          "'{}' is a symbolic link; ferry does not follow links, so it cannot be zipped",
          path.Display()));
    }
    if (S_ISREG(st.st_mode)) {
      AddFile(path, path.Leaf(), st);
      return Status::Ok();
    }
    if (S_ISDIR(st.st_mode)) return AddDirectory(path, path.Leaf() + "/", st);
    return Status::FailedPrecondition(
        fmt::format("'{}' is not a regular file or a directory", path.Display()));
  }

  std::vector<Item>& items() { return items_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  static Item MakeItem(const RelPath& path, std::string name, const struct stat& st) {
    Item item;
    item.name = std::move(name);
    item.path = path;
    item.is_dir = S_ISDIR(st.st_mode);
    item.size = item.is_dir ? 0 : static_cast<uint64_t>(st.st_size);
    item.mtime = st.st_mtim.tv_sec;
    item.mode = st.st_mode & 07777;
    return item;
  }

  void AddFile(const RelPath& path, std::string name, const struct stat& st) {
    // The archive being written may lie inside a directory being zipped.
    if (st.st_dev == out_.st_dev && st.st_ino == out_.st_ino) return;
    items_.push_back(MakeItem(path, std::move(name), st));
    total_bytes_ += items_.back().size;
  }

  // `name` is the directory's entry name, ending in '/'.
  Status AddDirectory(const RelPath& path, const std::string& name, const struct stat& st) {
    FERRY_RETURN_IF_ERROR(CheckStop(control_));
    items_.push_back(MakeItem(path, name, st));
    std::vector<std::pair<std::string, struct stat>> children;
    {
      auto dirfd = home_.OpenDirectory(path);
      if (!dirfd.ok()) return dirfd.status();
      int dup_fd = ::dup(dirfd->get());
      if (dup_fd < 0) return ErrnoStatus(errno, "dup");
      DIR* dir = ::fdopendir(dup_fd);
      if (dir == nullptr) {
        ::close(dup_fd);
        return PathError(errno, path.Display());
      }
      while (dirent* e = ::readdir(dir)) {
        std::string child = e->d_name;
        if (child == "." || child == "..") continue;
        struct stat cst {};
        // Gone since readdir: it simply is not part of the archive.
        if (::fstatat(dirfd->get(), child.c_str(), &cst, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(cst.st_mode) && !S_ISDIR(cst.st_mode)) continue;  // symlinks, devices...
        children.emplace_back(std::move(child), cst);
      }
      ::closedir(dir);
    }
    std::sort(children.begin(), children.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    // Children are reopened from the home root, so open fds do not grow with depth.
    for (const auto& [child, cst] : children) {
      Status valid = ValidateName(child);
      if (!valid.ok()) {
        return Status::FailedPrecondition(fmt::format("cannot zip '{}/{}': {}; rename it first",
                                                      path.Display(), ForDisplay(child),
                                                      valid.message()));
      }
      if (path.parts().size() + 1 > kMaxComponents ||
          path.Relative().size() + 1 + child.size() > kMaxPathBytes) {
        return Status::FailedPrecondition(fmt::format("cannot zip '{}/{}': it is nested too deeply",
                                                      path.Display(), ForDisplay(child)));
      }
      RelPath child_path = path.Child(child);
      if (S_ISDIR(cst.st_mode)) {
        FERRY_RETURN_IF_ERROR(AddDirectory(child_path, name + child + "/", cst));
      } else {
        AddFile(child_path, name + child, cst);
      }
    }
    return Status::Ok();
  }

  const HomeFs& home_;
  const struct stat& out_;
  const JobControl& control_;
  std::vector<Item> items_;
  uint64_t total_bytes_ = 0;
};

// What the entry sources share while zip_close runs.
struct WriteState {
  DeflatePipeline* pipeline = nullptr;
  JobControl* control = nullptr;
  Status error;  // the first failure, which zip_close's own error hides
};

// A libzip source for one non-empty file, serving its deflate blocks in order.
class EntrySource {
 public:
  EntrySource(WriteState& state, size_t input, uint64_t size, time_t mtime)
      : state_(state), input_(input), size_(size), mtime_(mtime) {
    zip_error_init(&error_);
  }
  ~EntrySource() { zip_error_fini(&error_); }
  EntrySource(const EntrySource&) = delete;
  EntrySource& operator=(const EntrySource&) = delete;

  static zip_int64_t Callback(void* self, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
    return static_cast<EntrySource*>(self)->Handle(data, len, cmd);
  }

 private:
  zip_int64_t Fail(Status status) {
    if (state_.error.ok()) state_.error = std::move(status);
    zip_error_set(&error_, ZIP_ER_READ, 0);
    return -1;
  }

  zip_int64_t Read(void* data, uint64_t len) {
    while (pos_ == chunk_.data.size()) {
      if (finished_) return 0;
      if (started_ && chunk_.last) {
        if (raw_bytes_ != size_) return Fail(Status::Internal("deflate pipeline lost data"));
        finished_ = true;
        // Every source lives until zip_close returns: keep none of their data.
        chunk_ = DeflatePipeline::Chunk();
        pos_ = 0;
        return 0;
      }
      if (state_.control->StopRequested()) return Fail(StopStatus());
      auto next = state_.pipeline->Next();
      if (!next.ok()) return Fail(next.status());
      if (next->input != input_) return Fail(Status::Internal("libzip read entries out of order"));
      crc_ = static_cast<uint32_t>(
          crc32_combine(crc_, next->crc, static_cast<z_off_t>(next->raw_bytes)));
      raw_bytes_ += next->raw_bytes;
      comp_bytes_ += next->data.size();
      state_.control->Advance(next->raw_bytes);
      chunk_ = std::move(next).value();
      pos_ = 0;
      started_ = true;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, chunk_.data.size() - pos_));
    std::memcpy(data, chunk_.data.data() + pos_, n);
    pos_ += n;
    return static_cast<zip_int64_t>(n);
  }

  zip_int64_t Handle(void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
    switch (cmd) {
      case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              ZIP_SOURCE_SUPPORTS, -1);
      case ZIP_SOURCE_OPEN:
        // The blocks can be taken only once.
        if (started_) return Fail(Status::Internal("libzip reopened a zip entry source"));
        return 0;
      case ZIP_SOURCE_READ:
        return Read(data, len);
      case ZIP_SOURCE_CLOSE:
        return 0;
      case ZIP_SOURCE_STAT: {
        if (len < sizeof(zip_stat_t)) return Fail(Status::Internal("short zip_stat"));
        auto* st = static_cast<zip_stat_t*>(data);
        zip_stat_init(st);
        st->valid =
            ZIP_STAT_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_MTIME | ZIP_STAT_ENCRYPTION_METHOD;
        st->size = size_;
        st->comp_method = ZIP_CM_DEFLATE;
        st->encryption_method = ZIP_EM_NONE;
        st->mtime = mtime_;
        if (finished_) {
          // What libzip needs for the final local and central headers.
          st->valid |= ZIP_STAT_CRC | ZIP_STAT_COMP_SIZE;
          st->crc = crc_;
          st->comp_size = comp_bytes_;
        }
        return sizeof(zip_stat_t);
      }
      case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&error_, data, len);
      case ZIP_SOURCE_FREE:
        return 0;  // owned by WriteZip
      default:
        zip_error_set(&error_, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
  }

  WriteState& state_;
  const size_t input_;
  const uint64_t size_;
  const time_t mtime_;
  zip_error_t error_;
  DeflatePipeline::Chunk chunk_;
  size_t pos_ = 0;  // into chunk_.data
  bool started_ = false;
  bool finished_ = false;
  uint32_t crc_ = 0;
  uint64_t raw_bytes_ = 0;
  uint64_t comp_bytes_ = 0;
};

// Discards an archive that was not closed, so an error leaves nothing half done.
struct ZipDiscarder {
  void operator()(zip_t* za) const { zip_discard(za); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscarder>;

std::string ZipErrorText(zip_t* za) { return zip_error_strerror(zip_get_error(za)); }

// Sets mtime, unix mode and the "UT" extra field of entry `index`.
Status SetMetadata(zip_t* za, zip_uint64_t index, const Item& item) {
  const uint32_t type = item.is_dir ? S_IFDIR : S_IFREG;
  // Low byte: MS-DOS attributes, of which only "directory" (0x10) matters.
  const uint32_t attributes = ((type | item.mode) << 16) | (item.is_dir ? 0x10 : 0);
  if (zip_file_set_mtime(za, index, static_cast<time_t>(item.mtime), 0) != 0 ||
      zip_file_set_external_attributes(za, index, 0, ZIP_OPSYS_UNIX, attributes) != 0) {
    return Status::Internal(
        fmt::format("cannot set attributes of '{}': {}", item.name, ZipErrorText(za)));
  }
  if (item.mtime >= std::numeric_limits<int32_t>::min() &&
      item.mtime <= std::numeric_limits<int32_t>::max()) {
    auto field = EncodeExtendedTimestamp(item.mtime);
    if (zip_file_extra_field_set(za, index, kExtendedTimestampId, ZIP_EXTRA_FIELD_NEW, field.data(),
                                 static_cast<zip_uint16_t>(field.size()),
                                 ZIP_FL_LOCAL | ZIP_FL_CENTRAL) != 0) {
      return Status::Internal(
          fmt::format("cannot set the timestamp of '{}': {}", item.name, ZipErrorText(za)));
    }
  }
  return Status::Ok();
}

}  // namespace

Status WriteZip(const HomeFs& home, const std::vector<RelPath>& paths, int out_fd,
                JobControl& control, const ZipOptions& options) {
  if (paths.empty()) return Status::InvalidArgument("nothing to zip: no paths were given");
  if (options.level < 0 || options.level > 9) {
    return Status::InvalidArgument(
        fmt::format("compression level {} is out of range (0 to 9)", options.level));
  }
  std::map<std::string, const RelPath*> top_names;
  for (const RelPath& path : paths) {
    if (path.IsRoot()) {
      return Status::InvalidArgument(
          "your whole home cannot be zipped into itself; choose files or folders in it");
    }
    auto [it, fresh] = top_names.emplace(path.Leaf(), &path);
    if (!fresh) {
      return Status::InvalidArgument(
          fmt::format("'{}' and '{}' would both be stored as '{}' in the archive",
                      it->second->Display(), path.Display(), path.Leaf()));
    }
  }
  struct stat out_st {};
  if (::fstat(out_fd, &out_st) != 0) return ErrnoStatus(errno, "cannot stat the output file");

  Walker walker(home, out_st, control);
  for (const RelPath& path : paths) FERRY_RETURN_IF_ERROR(walker.AddTop(path));
  control.SetTotal(walker.total_bytes());
  const std::vector<Item>& items = walker.items();
  if (items.empty()) return Status::InvalidArgument("nothing to zip: only the archive itself");

  // Compression starts now, while libzip is being told about the entries.
  std::vector<DeflatePipeline::Input> inputs;
  for (const Item& item : items) {
    if (!item.is_dir && item.size > 0) inputs.push_back({item.path, item.size});
  }
  int threads = options.threads > 0 ? options.threads : UsableCpus();
  DeflatePipeline pipeline(home.root_fd(), std::move(inputs), threads, options.level);
  WriteState state{&pipeline, &control, Status::Ok()};
  std::vector<std::unique_ptr<EntrySource>> sources;  // outlive za, which calls them

  ZipFdSink sink(out_fd);
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* archive_source = sink.NewSource(&error);
  zip_t* raw = archive_source
                   ? zip_open_from_source(archive_source, ZIP_CREATE | ZIP_TRUNCATE, &error)
                   : nullptr;
  if (raw == nullptr) {
    std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    if (archive_source) zip_source_free(archive_source);
    if (!sink.status().ok()) return sink.status();
    return Status::Internal(fmt::format("cannot start the ZIP archive: {}", why));
  }
  zip_error_fini(&error);
  ZipPtr za(raw);

  size_t next_input = 0;
  for (const Item& item : items) {
    zip_int64_t index;
    if (item.is_dir) {
      index = zip_dir_add(za.get(), item.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      zip_source_t* src;
      if (item.size == 0) {
        src = zip_source_buffer(za.get(), nullptr, 0, 0);
      } else {
        sources.push_back(
            std::make_unique<EntrySource>(state, next_input++, item.size, item.mtime));
        src = zip_source_function(za.get(), &EntrySource::Callback, sources.back().get());
      }
      if (src == nullptr) {
        return Status::Internal(
            fmt::format("cannot add '{}': {}", item.name, ZipErrorText(za.get())));
      }
      index = zip_file_add(za.get(), item.name.c_str(), src, ZIP_FL_ENC_UTF_8);
      if (index < 0) zip_source_free(src);
      // Empty files are stored, as zip does, rather than deflated to two bytes.
      if (index >= 0 && item.size == 0 &&
          zip_set_file_compression(za.get(), static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) !=
              0) {
        index = -1;
      }
    }
    if (index < 0) {
      return Status::Internal(
          fmt::format("cannot add '{}' to the archive: {}", item.name, ZipErrorText(za.get())));
    }
    FERRY_RETURN_IF_ERROR(SetMetadata(za.get(), static_cast<zip_uint64_t>(index), item));
  }

  // zip_close writes everything, pulling compressed blocks from the pipeline.
  if (zip_close(za.get()) != 0) {
    if (!state.error.ok()) return state.error;
    if (!sink.status().ok()) return sink.status();
    return Status::Internal(
        fmt::format("cannot write the ZIP archive: {}", ZipErrorText(za.get())));
  }
  (void)za.release();  // zip_close freed it
  return Status::Ok();
}

}  // namespace ferry::jobs
