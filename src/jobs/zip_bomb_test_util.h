// Hostile archives for tests, written byte by byte: what libzip refuses to
// produce. Header-only, for unit and end-to-end tests alike.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::jobs::testing {

inline void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// `size` zero bytes, raw-deflated at level 9 (deflate's best case: ~1030:1).
inline std::string DeflatedZeros(uint64_t size, uint32_t* crc) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
  std::vector<unsigned char> zeros(1 << 20, 0);
  std::string out;
  std::vector<unsigned char> buf(1 << 16);
  uLong sum = crc32(0, nullptr, 0);
  for (uint64_t left = size;;) {
    uInt n = static_cast<uInt>(std::min<uint64_t>(left, zeros.size()));
    sum = crc32(sum, zeros.data(), n);
    left -= n;
    z.next_in = zeros.data();
    z.avail_in = n;
    int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    int rc;
    do {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&z, flush);
      out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - z.avail_out);
    } while (z.avail_out == 0);
    if (left == 0 && rc == Z_STREAM_END) break;
  }
  deflateEnd(&z);
  *crc = static_cast<uint32_t>(sum);
  return out;
}

// A ZIP of `entries` entries ("bomb-0", "bomb-1", ...) that overlap, built as
// David Fifield's "better zip bomb" (https://www.bamsoftware.com/hacks/zipbomb/):
// each entry has its own local header, consistent with the central directory,
// and its deflate data is a stored block quoting the next entry's local header
// followed by that entry's data, down to one shared kernel of `kernel_size`
// deflated zero bytes. Every entry unpacks to about `kernel_size` bytes, so
// the archive declares about entries * kernel_size bytes from one kernel.
inline std::string OverlappingZip(uint64_t kernel_size, int entries) {
  struct Entry {
    std::string name;
    uint32_t crc = 0;
    uint64_t compressed = 0;
    uint64_t size = 0;
  };
  std::vector<Entry> e(static_cast<size_t>(entries));
  for (int i = 0; i < entries; ++i) e[static_cast<size_t>(i)].name = "bomb-" + std::to_string(i);
  auto fields = [](std::string& h, const Entry& x) {
    PutLe(h, 20, 2);    // version needed
    PutLe(h, 0, 2);     // flags
    PutLe(h, 8, 2);     // deflate
    PutLe(h, 0, 2);     // time
    PutLe(h, 0x21, 2);  // date: 1980-01-01
    PutLe(h, x.crc, 4);
    PutLe(h, x.compressed, 4);
    PutLe(h, x.size, 4);
  };
  auto local_header = [&](const Entry& x) {
    std::string h;
    PutLe(h, 0x04034b50, 4);
    fields(h, x);
    PutLe(h, x.name.size(), 2);
    PutLe(h, 0, 2);
    return h + x.name;
  };
  uint32_t kernel_crc = 0;
  const std::string kernel = DeflatedZeros(kernel_size, &kernel_crc);
  e.back().crc = kernel_crc;
  e.back().compressed = kernel.size();
  e.back().size = kernel_size;
  // Back to front: each entry quotes the next one's local header.
  std::vector<std::string> pieces;  // reversed: LH(i) + quote header(i)
  pieces.push_back(local_header(e.back()));
  for (size_t i = e.size() - 1; i-- > 0;) {
    const std::string quoted = local_header(e[i + 1]);
    const uLong quoted_crc =
        crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(quoted.data()),
              static_cast<uInt>(quoted.size()));
    e[i].crc = static_cast<uint32_t>(
        crc32_combine(quoted_crc, e[i + 1].crc, static_cast<z_off_t>(e[i + 1].size)));
    e[i].compressed = 5 + quoted.size() + e[i + 1].compressed;
    e[i].size = quoted.size() + e[i + 1].size;
    std::string piece = local_header(e[i]);
    piece.push_back('\0');  // BFINAL 0, BTYPE 00: a stored block
    PutLe(piece, quoted.size(), 2);
    PutLe(piece, ~quoted.size() & 0xffff, 2);
    pieces.push_back(std::move(piece));
  }
  std::string out;
  std::vector<uint64_t> offsets;
  for (size_t i = pieces.size(); i-- > 0;) {
    offsets.push_back(out.size());
    out += pieces[i];
  }
  out += kernel;
  const uint64_t cd_offset = out.size();
  for (size_t i = 0; i < e.size(); ++i) {
    PutLe(out, 0x02014b50, 4);
    PutLe(out, 0x031e, 2);  // made by: unix
    fields(out, e[i]);
    PutLe(out, e[i].name.size(), 2);
    PutLe(out, 0, 2);  // extra
    PutLe(out, 0, 2);  // comment
    PutLe(out, 0, 2);  // disk
    PutLe(out, 0, 2);  // internal attributes
    PutLe(out, uint64_t{0100644} << 16, 4);
    PutLe(out, offsets[i], 4);
    out += e[i].name;
  }
  const uint64_t cd_size = out.size() - cd_offset;
  PutLe(out, 0x06054b50, 4);
  PutLe(out, 0, 2);
  PutLe(out, 0, 2);
  PutLe(out, entries, 2);
  PutLe(out, entries, 2);
  PutLe(out, cd_size, 4);
  PutLe(out, cd_offset, 4);
  PutLe(out, 0, 2);
  return out;
}

}  // namespace ferry::jobs::testing
