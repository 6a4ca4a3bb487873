// An in-memory copy of the folded names of the files a store indexes, kept in
// id order, that tells which ids' names contain a text.
//
// Why: a substring search over a million names costs a database several ms
// whatever its index does. PostgreSQL's trigram index drops separators, so
// "museum.museum" makes it recheck every "museum"; a common text read in id
// order still filters thousands of index entries, and each query is planned
// (docs/benchmarks.md has the figures). Here a common text costs a few thousand comparisons in one array
// and a rare one a few words of bitmap per 256 names (see below).
//
// Each name carries a 128-bit signature: one bit per trigram (bytes, separators
// included). A name can contain the text only if its signature holds every bit
// of the text's, so most names are skipped without looking at their bytes;
// the ones that pass are compared for real. A group of four names has the OR of
// their signatures, which lets a rare text skip most of the array four names
// at a time. Those group signatures are also kept sliced: for each of the 128
// bits, a bitmap of the groups that have it. A search ANDs only the bitmaps of
// its text's bits, a few words per 256 names, instead of reading every group's
// 16 bytes: a rare text that once cost a scan of 4 MB per million names now
// reads a few hundred KB.
//
// The index may hold more than the store (ids since deleted, which the store's
// answer then lacks and the caller Forget()s), never less: callers Put() a
// name before or when its row becomes visible. Matching is bytewise on what
// callers give: they fold names and texts the same way.
// Thread-safe: Find() runs concurrently with other Find()s; Put() and Forget()
// take the index for themselves briefly, ahead of searches that come later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/writer_first_mutex.h"

namespace ferry {

class NameIndex {
 public:
  NameIndex() = default;
  NameIndex(const NameIndex&) = delete;
  NameIndex& operator=(const NameIndex&) = delete;

  // Adds `id` with `folded_name`, or replaces its name. Ids usually arrive in
  // increasing order (appends); an older id goes in its place.
  void Put(int64_t id, std::string_view folded_name);
  // Forgets `id` (its row is gone); no-op if unknown.
  void Forget(int64_t id);
  // Forgets everything.
  void Clear();

  // Up to `max` ids greater than `after_id`, in increasing order, whose names
  // contain `folded_text` (every id, for an empty text).
  std::vector<int64_t> Find(std::string_view folded_text, int64_t after_id, size_t max) const;

  // Ids held (not forgotten).
  size_t size() const;
  // The largest id ever put and not compacted away; 0 when empty.
  int64_t max_id() const;
  // Bytes the index holds, roughly (for /metrics).
  size_t memory_bytes() const;

 private:
  struct Signature {
    uint64_t lo = 0, hi = 0;
  };
  struct Name {
    uint64_t offset = 0;  // into arena_
    uint32_t length = 0;
    bool gone = false;
  };

  // Names per group signature (the OR of theirs).
  static constexpr size_t kGroup = 4;
  static constexpr size_t kSignatureBits = 128;

  static Signature SignatureOf(std::string_view text);
  // Whether `s` has every bit of `want`.
  static bool Holds(const Signature& s, const Signature& want);
  // Recomputes the group signatures (and their slices) of the groups of
  // entries first_pos to last_pos. REQUIRES: mu_ held exclusively.
  void Regroup(size_t first_pos, size_t last_pos);
  // Sets or clears group `g`'s bit in the slice of each bit of `bits`.
  // REQUIRES: mu_ held exclusively, slices_ wide enough for g.
  void FlipSliceBits(size_t g, const Signature& bits);
  // Drops forgotten ids and unused arena bytes once they are a large share.
  // REQUIRES: mu_ held exclusively.
  void MaybeCompact();

  // Writers first: searches that keep overlapping must not hold off announces.
  mutable WriterFirstMutex mu_;
  // Parallel arrays in increasing id order; signatures apart, so a scan reads
  // 16 bytes per name. All GUARDED_BY(mu_).
  std::vector<int64_t> ids_;
  std::vector<Signature> signatures_;
  std::vector<Name> names_;
  std::vector<Signature> group_signatures_;  // one per kGroup entries
  // 128 bitmaps over the groups, slice b at [b * slice_words_, (b + 1) *
  // slice_words_): bit g of slice b is bit b of group g's signature. The
  // stride grows by doubling, so appends rarely move them.
  std::vector<uint64_t> slices_;
  size_t slice_words_ = 0;
  std::string arena_;        // the names' bytes, back to back
  size_t gone_ = 0;          // entries of names_ marked gone
  size_t unused_bytes_ = 0;  // arena_ bytes of gone or replaced names
};

}  // namespace ferry
