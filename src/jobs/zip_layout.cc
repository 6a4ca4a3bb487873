#include "jobs/zip_layout.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "core/display_text.h"
#include "core/rel_path.h"
#include "transfer/file_io.h"

namespace ferry::jobs {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderBytes = 30;
constexpr size_t kCentralHeaderBytes = 46;
constexpr size_t kEndBytes = 22;
constexpr size_t kZip64EndBytes = 56;
constexpr size_t kZip64LocatorBytes = 20;
constexpr size_t kMaxCommentBytes = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;

uint16_t U16(const char* p) {
  auto b = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint16_t>(b[0] | b[1] << 8);
}
uint32_t U32(const char* p) { return U16(p) | static_cast<uint32_t>(U16(p + 2)) << 16; }
uint64_t U64(const char* p) { return U32(p) | static_cast<uint64_t>(U32(p + 4)) << 32; }

Status Malformed(const std::string& what) {
  return Status::InvalidArgument("not a valid ZIP archive: " + what);
}

// Reads [offset, offset + n) of `in`, refusing ranges past its end.
Result<std::string> ReadRange(const ZipBytes& in, uint64_t offset, uint64_t n,
                              const std::string& what) {
  if (offset > in.size() || n > in.size() - offset) return Malformed(what + " lies past its end");
  std::string out(static_cast<size_t>(n), '\0');
  FERRY_RETURN_IF_ERROR(in.ReadAt(offset, out.data(), out.size()));
  return out;
}

struct End {
  uint64_t entries = 0;
  uint64_t cd_size = 0;
  uint64_t cd_offset = 0;
  uint64_t end_offset = 0;  // where the (ZIP64) end record starts: the directory's limit
};

Result<End> ReadEnd(const ZipBytes& in) {
  if (in.size() < kEndBytes) return Malformed("it is too short");
  uint64_t tail_size = std::min<uint64_t>(in.size(), kEndBytes + kMaxCommentBytes);
  auto tail = ReadRange(in, in.size() - tail_size, tail_size, "the end record");
  if (!tail.ok()) return tail.status();
  const uint64_t tail_start = in.size() - tail_size;
  std::optional<size_t> at;
  for (size_t i = tail->size() - kEndBytes + 1; i-- > 0;) {
    if (U32(tail->data() + i) == kEndSig &&
        i + kEndBytes + U16(tail->data() + i + 20) <= tail->size()) {
      at = i;
      break;
    }
  }
  if (!at) return Malformed("it has no end of central directory record");
  const char* e = tail->data() + *at;
  End end;
  end.end_offset = tail_start + *at;
  if (U16(e + 4) != 0 || U16(e + 6) != 0) {
    return Status::InvalidArgument("multi-part (split) ZIP archives are not supported");
  }
  end.entries = U16(e + 10);
  end.cd_size = U32(e + 12);
  end.cd_offset = U32(e + 16);
  // A ZIP64 end record, when present, sits before its locator, which sits
  // right before the end record.
  if (end.end_offset >= kZip64LocatorBytes) {
    auto locator =
        ReadRange(in, end.end_offset - kZip64LocatorBytes, kZip64LocatorBytes, "the ZIP64 locator");
    if (!locator.ok()) return locator.status();
    if (U32(locator->data()) == kZip64LocatorSig) {
      uint64_t offset = U64(locator->data() + 8);
      auto record = ReadRange(in, offset, kZip64EndBytes, "the ZIP64 end record");
      if (!record.ok()) return record.status();
      const char* z = record->data();
      if (U32(z) != kZip64EndSig) return Malformed("its ZIP64 end record is missing");
      if (U32(z + 16) != 0 || U32(z + 20) != 0) {
        return Status::InvalidArgument("multi-part (split) ZIP archives are not supported");
      }
      end.entries = U64(z + 32);
      end.cd_size = U64(z + 40);
      end.cd_offset = U64(z + 48);
      end.end_offset = offset;
    }
  }
  if (end.cd_offset > end.end_offset || end.cd_size > end.end_offset - end.cd_offset) {
    return Malformed("its central directory lies past its end record");
  }
  return end;
}

// The ZIP64 extended information field of a central header: the values whose
// 32-bit fields are 0xffffffff, in this order.
Status ApplyZip64(std::string_view extra, ZipEntrySpan& span, bool need_size, bool need_comp,
                  bool need_offset, const std::string& shown) {
  if (!need_size && !need_comp && !need_offset) return Status::Ok();
  while (extra.size() >= 4) {
    uint16_t id = U16(extra.data());
    uint16_t len = U16(extra.data() + 2);
    if (len > extra.size() - 4) break;
    std::string_view data = extra.substr(4, len);
    extra.remove_prefix(4 + len);
    if (id != kZip64ExtraId) continue;
    auto take = [&](uint64_t& field) {
      if (data.size() < 8) return false;
      field = U64(data.data());
      data.remove_prefix(8);
      return true;
    };
    if ((need_size && !take(span.uncompressed_size)) ||
        (need_comp && !take(span.compressed_size)) || (need_offset && !take(span.local_offset))) {
      break;
    }
    return Status::Ok();
  }
  return Malformed(fmt::format("entry '{}' lacks the ZIP64 sizes its header calls for", shown));
}

Result<std::vector<ZipEntrySpan>> ReadCentralDirectory(const ZipBytes& in, const End& end,
                                                       uint64_t max_entries) {
  if (end.entries > max_entries) {
    return Status::InvalidArgument(fmt::format(
        "the archive has {} entries; ferry unpacks at most {}", end.entries, max_entries));
  }
  if (end.cd_size > kMaxCentralDirectoryBytes) {
    return Status::InvalidArgument(
        fmt::format("the archive's central directory is {} bytes; ferry reads at most {}",
                    end.cd_size, kMaxCentralDirectoryBytes));
  }
  auto cd = ReadRange(in, end.cd_offset, end.cd_size, "its central directory");
  if (!cd.ok()) return cd.status();
  std::vector<ZipEntrySpan> spans;
  spans.reserve(static_cast<size_t>(end.entries));
  size_t p = 0;
  for (uint64_t i = 0; i < end.entries; ++i) {
    if (cd->size() - p < kCentralHeaderBytes || U32(cd->data() + p) != kCentralHeaderSig) {
      return Malformed(fmt::format("central directory entry {} is missing or cut short", i));
    }
    const char* h = cd->data() + p;
    size_t name_len = U16(h + 28), extra_len = U16(h + 30), comment_len = U16(h + 32);
    size_t total = kCentralHeaderBytes + name_len + extra_len + comment_len;
    if (cd->size() - p < total) {
      return Malformed(fmt::format("central directory entry {} is cut short", i));
    }
    ZipEntrySpan span;
    span.name.assign(h + kCentralHeaderBytes, name_len);
    span.compressed_size = U32(h + 20);
    span.uncompressed_size = U32(h + 24);
    span.local_offset = U32(h + 42);
    FERRY_RETURN_IF_ERROR(
        ApplyZip64(std::string_view(h + kCentralHeaderBytes + name_len, extra_len), span,
                   span.uncompressed_size == 0xffffffff, span.compressed_size == 0xffffffff,
                   span.local_offset == 0xffffffff, ForDisplay(span.name)));
    spans.push_back(std::move(span));
    p += total;
  }
  return spans;
}

// Sets `span.data_end` from its local header, which must lie before the
// central directory with its data.
Status ReadLocalHeader(const ZipBytes& in, uint64_t cd_offset, ZipEntrySpan& span) {
  std::string shown = ForDisplay(span.name);
  if (span.local_offset > cd_offset || cd_offset - span.local_offset < kLocalHeaderBytes) {
    return Malformed(fmt::format("entry '{}' has its local header outside the entries", shown));
  }
  char h[kLocalHeaderBytes];
  FERRY_RETURN_IF_ERROR(in.ReadAt(span.local_offset, h, sizeof h));
  if (U32(h) != kLocalHeaderSig) {
    return Malformed(fmt::format("entry '{}' has no local header where it says", shown));
  }
  uint64_t data_start = span.local_offset + kLocalHeaderBytes + U16(h + 26) + U16(h + 28);
  if (data_start > cd_offset || span.compressed_size > cd_offset - data_start) {
    return Malformed(fmt::format("the data of entry '{}' runs into the central directory", shown));
  }
  span.data_end = data_start + span.compressed_size;
  return Status::Ok();
}

}  // namespace

Status FdZipBytes::ReadAt(uint64_t offset, char* out, size_t n) const {
  auto got = ReadFullAt(fd_, out, n, static_cast<int64_t>(offset), "cannot read the archive");
  if (!got.ok()) return got.status();
  if (*got != n) return Malformed("it is shorter than it says");
  return Status::Ok();
}

Status MemoryZipBytes::ReadAt(uint64_t offset, char* out, size_t n) const {
  if (offset > data_.size() || n > data_.size() - offset) {
    return Malformed("it is shorter than it says");
  }
  std::memcpy(out, data_.data() + offset, n);
  return Status::Ok();
}

Result<ZipLayout> ReadZipLayout(const ZipBytes& in, uint64_t max_entries) {
  auto end = ReadEnd(in);
  if (!end.ok()) return end.status();
  auto spans = ReadCentralDirectory(in, *end, max_entries);
  if (!spans.ok()) return spans.status();
  for (ZipEntrySpan& span : *spans) {
    FERRY_RETURN_IF_ERROR(ReadLocalHeader(in, end->cd_offset, span));
  }
  std::vector<const ZipEntrySpan*> by_offset;
  by_offset.reserve(spans->size());
  for (const ZipEntrySpan& span : *spans) by_offset.push_back(&span);
  std::sort(by_offset.begin(), by_offset.end(), [](const ZipEntrySpan* a, const ZipEntrySpan* b) {
    return a->local_offset < b->local_offset;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const ZipEntrySpan& before = *by_offset[i - 1];
    const ZipEntrySpan& after = *by_offset[i];
    if (after.local_offset < before.data_end) {
      return Status::FailedPrecondition(fmt::format(
          "entries '{}' and '{}' share bytes of the archive (overlapping entries, a zip bomb "
          "technique); ferry does not unpack such archives",
          ForDisplay(before.name), ForDisplay(after.name)));
    }
  }
  ZipLayout layout;
  layout.entries = std::move(spans).value();
  layout.central_directory_offset = end->cd_offset;
  return layout;
}

}  // namespace ferry::jobs
