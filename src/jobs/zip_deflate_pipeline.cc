#include "jobs/zip_deflate_pipeline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "core/home_fs.h"
#include "transfer/file_io.h"

namespace ferry::jobs {
namespace {

// The deflate window: how much earlier input a block may refer back to.
constexpr uint64_t kDictionaryBytes = 32 << 10;

Status OpenRegular(int root_fd, const RelPath& path, int* fd_out) {
  auto fd =
      OpenBeneath(root_fd, path.Relative(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0, path.Display());
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return PathError(errno, path.Display());
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition(fmt::format(
        "'{}' is no longer a regular file; it changed while being zipped", path.Display()));
  }
  *fd_out = fd->Release();
  return Status::Ok();
}

}  // namespace

DeflatePipeline::OpenInput::~OpenInput() {
  if (fd >= 0) ::close(fd);
}

DeflatePipeline::DeflatePipeline(int root_fd, std::vector<Input> inputs, int threads, int level)
    : root_fd_(root_fd), inputs_(std::move(inputs)) {
  threads = std::max(threads, 1);
  workers_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this, level] { Work(level); });
}

DeflatePipeline::~DeflatePipeline() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

bool DeflatePipeline::CanDispatch() const {
  if (stop_ || next_input_ >= inputs_.size()) return false;
  if (slots_.empty()) return true;
  uint64_t length = std::min(kBlockBytes, inputs_[next_input_].size - next_offset_);
  return slots_.size() < kWindowBlocks && bytes_in_flight_ + length <= kWindowBytes;
}

DeflatePipeline::Task DeflatePipeline::Dispatch() {
  Task task;
  task.input = next_input_;
  task.offset = next_offset_;
  task.length = std::min(kBlockBytes, inputs_[next_input_].size - next_offset_);
  if (!next_file_) next_file_ = std::make_shared<OpenInput>();
  task.file = next_file_;
  task.slot = first_slot_ + slots_.size();
  next_offset_ += task.length;
  task.last = next_offset_ >= inputs_[next_input_].size;
  if (task.last) {
    ++next_input_;
    next_offset_ = 0;
    next_file_.reset();
  }
  slots_.emplace_back().length = task.length;
  bytes_in_flight_ += task.length;
  return task;
}

// A worker's zlib state: the stream at the requested level, a level-0 stream
// for incompressible blocks, and a level-1 stream that probes samples.
struct DeflatePipeline::Deflater {
  explicit Deflater(int level) {
    ok = deflateInit2(&main, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    ok = (deflateInit2(&store, 0, Z_DEFLATED, -15, 1, Z_DEFAULT_STRATEGY) == Z_OK) && ok;
    ok = (deflateInit2(&probe, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK) && ok;
    probe_out.resize(deflateBound(&probe, kSampleBytes));
    skip_probe = level == 0;
  }
  ~Deflater() {
    deflateEnd(&main);
    deflateEnd(&store);
    deflateEnd(&probe);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // True when three samples of `data` shrink by less than 3% at level 1.
  bool LooksIncompressible(const unsigned char* data, uint64_t length) {
    if (skip_probe || length < kMinProbedBlock) return false;
    uint64_t sampled = 0;
    uint64_t packed = 0;
    for (uint64_t at : {uint64_t{0}, length / 2, length - kSampleBytes}) {
      if (deflateReset(&probe) != Z_OK) return false;
      probe.next_in = const_cast<unsigned char*>(data + at);
      probe.avail_in = kSampleBytes;
      probe.next_out = probe_out.data();
      probe.avail_out = static_cast<uInt>(probe_out.size());
      if (deflate(&probe, Z_FINISH) != Z_STREAM_END) return false;
      sampled += kSampleBytes;
      packed += probe_out.size() - probe.avail_out;
    }
    return packed * 100 > sampled * 97;
  }

  static constexpr uInt kSampleBytes = 8 << 10;
  static constexpr uint64_t kMinProbedBlock = 64 << 10;

  z_stream main{};
  z_stream store{};
  z_stream probe{};
  bool ok = false;
  bool skip_probe = false;
  std::vector<unsigned char> in;
  std::vector<unsigned char> probe_out;
};

void DeflatePipeline::Work(int level) {
  Deflater deflater(level);
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || next_input_ >= inputs_.size() || CanDispatch(); });
      if (!CanDispatch()) break;
      task = Dispatch();
    }
    Chunk chunk;
    Status status = deflater.ok ? Compress(deflater, task, chunk)
                                : Status::ResourceExhausted("cannot set up deflate: out of memory");
    task.file.reset();  // closes the file after its last block
    {
      std::lock_guard lock(mu_);
      if (task.slot >= first_slot_) {
        Slot& slot = slots_[task.slot - first_slot_];
        slot.done = true;
        slot.status = std::move(status);
        slot.chunk = std::move(chunk);
      }
    }
    cv_.notify_all();
  }
}

Status DeflatePipeline::Compress(Deflater& d, const Task& task, Chunk& chunk) const {
  const RelPath& path = inputs_[task.input].path;
  OpenInput& file = *task.file;
  std::call_once(file.once, [&] { file.status = OpenRegular(root_fd_, path, &file.fd); });
  if (!file.status.ok()) return file.status;

  // Read the block together with the dictionary before it: blocks stay independent.
  uint64_t dict = std::min(task.offset, kDictionaryBytes);
  size_t want = static_cast<size_t>(dict + task.length);
  d.in.resize(want);
  auto got = ReadFullAt(file.fd, reinterpret_cast<char*>(d.in.data()), want,
                        static_cast<int64_t>(task.offset - dict),
                        fmt::format("cannot read '{}'", path.Display()));
  if (!got.ok()) return got.status();
  if (*got < want) {
    return Status::Aborted(fmt::format(
        "'{}' became shorter while it was being zipped; try again when it is not being written",
        path.Display()));
  }
  const unsigned char* data = d.in.data() + dict;

  const bool store = d.LooksIncompressible(data, task.length);
  z_stream& z = store ? d.store : d.main;
  if (deflateReset(&z) != Z_OK) return Status::Internal("deflateReset failed");
  if (!store && dict > 0 &&
      deflateSetDictionary(&z, d.in.data(), static_cast<uInt>(dict)) != Z_OK) {
    return Status::Internal("deflateSetDictionary failed");
  }
  chunk.data.resize(deflateBound(&z, static_cast<uLong>(task.length)) + 64);
  z.next_in = const_cast<unsigned char*>(data);
  z.avail_in = static_cast<uInt>(task.length);
  size_t produced = 0;
  const int flush = task.last ? Z_FINISH : Z_SYNC_FLUSH;
  for (;;) {
    z.next_out = chunk.data.data() + produced;
    z.avail_out = static_cast<uInt>(chunk.data.size() - produced);
    int rc = deflate(&z, flush);
    produced = chunk.data.size() - z.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Status::Internal(fmt::format("deflate failed on '{}' ({})", path.Display(), rc));
    }
    // A sync flush is complete once all input is taken and output space is left over.
    if (!task.last && z.avail_in == 0 && z.avail_out > 0) break;
    if (z.avail_out == 0) chunk.data.resize(chunk.data.size() * 2);
  }
  chunk.data.resize(produced);
  chunk.input = task.input;
  chunk.raw_bytes = task.length;
  chunk.crc =
      static_cast<uint32_t>(crc32(crc32(0, nullptr, 0), data, static_cast<uInt>(task.length)));
  chunk.last = task.last;
  return Status::Ok();
}

Result<DeflatePipeline::Chunk> DeflatePipeline::Next() {
  std::unique_lock lock(mu_);
  if (!failed_.ok()) return failed_;
  if (slots_.empty() && next_input_ >= inputs_.size()) {
    return Status::Internal("the deflate pipeline has no more blocks");
  }
  cv_.wait(lock, [&] { return !slots_.empty() && slots_.front().done; });
  Slot slot = std::move(slots_.front());
  slots_.pop_front();
  ++first_slot_;
  bytes_in_flight_ -= slot.length;
  if (!slot.status.ok()) {
    // Stop compressing what will never be written.
    failed_ = slot.status;
    stop_ = true;
  }
  lock.unlock();
  cv_.notify_all();
  if (!slot.status.ok()) return slot.status;
  return std::move(slot.chunk);
}

}  // namespace ferry::jobs
