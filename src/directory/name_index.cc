#include "directory/name_index.h"

#include <algorithm>
#include <mutex>
#include <shared_mutex>

namespace ferry {

namespace {

// Which of the 128 signature bits a trigram sets (Fibonacci hashing of its
// three bytes).
unsigned TrigramBit(unsigned char a, unsigned char b, unsigned char c) {
  uint32_t v = (uint32_t{a} << 16) | (uint32_t{b} << 8) | c;
  return (v * 0x9E3779B1u) >> 25;
}

}  // namespace

bool NameIndex::Holds(const Signature& s, const Signature& want) {
  return (((s.lo & want.lo) ^ want.lo) | ((s.hi & want.hi) ^ want.hi)) == 0;
}

void NameIndex::Regroup(size_t first_pos, size_t last_pos) {
  // The array only grows between compactions (which clear the groups and
  // slices first), so new groups start with no bits.
  const size_t groups = (ids_.size() + kGroup - 1) / kGroup;
  group_signatures_.resize(groups);
  const size_t words = (groups + 63) / 64;
  if (words > slice_words_) {
    const size_t wider = std::max(words, 2 * slice_words_);
    std::vector<uint64_t> slices(kSignatureBits * wider, 0);
    for (size_t b = 0; b < kSignatureBits; ++b) {
      std::copy_n(slices_.begin() + static_cast<std::ptrdiff_t>(b * slice_words_), slice_words_,
                  slices.begin() + static_cast<std::ptrdiff_t>(b * wider));
    }
    slices_ = std::move(slices);
    slice_words_ = wider;
  }
  for (size_t g = first_pos / kGroup; g <= last_pos / kGroup && g < groups; ++g) {
    Signature combined;
    for (size_t j = g * kGroup; j < std::min(ids_.size(), (g + 1) * kGroup); ++j) {
      combined.lo |= signatures_[j].lo;
      combined.hi |= signatures_[j].hi;
    }
    const Signature& old = group_signatures_[g];
    FlipSliceBits(g, Signature{old.lo ^ combined.lo, old.hi ^ combined.hi});
    group_signatures_[g] = combined;
  }
}

void NameIndex::FlipSliceBits(size_t g, const Signature& bits) {
  const uint64_t mask = uint64_t{1} << (g % 64);
  const size_t word = g / 64;
  for (uint64_t lo = bits.lo; lo != 0; lo &= lo - 1) {
    slices_[static_cast<size_t>(__builtin_ctzll(lo)) * slice_words_ + word] ^= mask;
  }
  for (uint64_t hi = bits.hi; hi != 0; hi &= hi - 1) {
    slices_[(64 + static_cast<size_t>(__builtin_ctzll(hi))) * slice_words_ + word] ^= mask;
  }
}

NameIndex::Signature NameIndex::SignatureOf(std::string_view text) {
  Signature s;
  for (size_t i = 0; i + 3 <= text.size(); ++i) {
    unsigned bit =
        TrigramBit(static_cast<unsigned char>(text[i]), static_cast<unsigned char>(text[i + 1]),
                   static_cast<unsigned char>(text[i + 2]));
    (bit < 64 ? s.lo : s.hi) |= uint64_t{1} << (bit % 64);
  }
  return s;
}

void NameIndex::Put(int64_t id, std::string_view folded_name) {
  std::unique_lock lock(mu_);
  Name name{arena_.size(), static_cast<uint32_t>(folded_name.size()), false};
  auto at = std::lower_bound(ids_.begin(), ids_.end(), id);
  const auto pos = static_cast<size_t>(at - ids_.begin());
  if (at != ids_.end() && *at == id) {
    Name& old = names_[pos];
    // The same name again (an instance hearing of its own rows): nothing to do.
    if (!old.gone && std::string_view(arena_).substr(old.offset, old.length) == folded_name) return;
    if (old.gone) {
      --gone_;  // its bytes were counted unused when it went
    } else {
      unused_bytes_ += old.length;
    }
    old = name;
    signatures_[pos] = SignatureOf(folded_name);
    Regroup(pos, pos);
  } else {
    ids_.insert(at, id);
    signatures_.insert(signatures_.begin() + static_cast<std::ptrdiff_t>(pos),
                       SignatureOf(folded_name));
    names_.insert(names_.begin() + static_cast<std::ptrdiff_t>(pos), name);
    // The names after pos moved one place: their groups change (few, for an
    // append).
    Regroup(pos, ids_.size() - 1);
  }
  arena_.append(folded_name);
  MaybeCompact();
}

void NameIndex::Forget(int64_t id) {
  std::unique_lock lock(mu_);
  auto at = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (at == ids_.end() || *at != id) return;
  Name& name = names_[static_cast<size_t>(at - ids_.begin())];
  if (name.gone) return;
  name.gone = true;
  ++gone_;
  unused_bytes_ += name.length;
  MaybeCompact();
}

void NameIndex::Clear() {
  std::unique_lock lock(mu_);
  ids_.clear();
  signatures_.clear();
  names_.clear();
  group_signatures_.clear();
  slices_.clear();
  slice_words_ = 0;
  arena_.clear();
  gone_ = 0;
  unused_bytes_ = 0;
}

void NameIndex::MaybeCompact() {
  // A quarter of dead weight is let be: compacting copies everything.
  const bool many_gone = gone_ > 1024 && gone_ * 4 > ids_.size();
  const bool much_unused = unused_bytes_ > (64u << 10) && unused_bytes_ * 4 > arena_.size();
  if (!many_gone && !much_unused) return;
  std::vector<int64_t> ids;
  std::vector<Signature> signatures;
  std::vector<Name> names;
  std::string arena;
  const size_t live = ids_.size() - gone_;
  ids.reserve(live);
  signatures.reserve(live);
  names.reserve(live);
  arena.reserve(arena_.size() - unused_bytes_);
  for (size_t i = 0; i < ids_.size(); ++i) {
    const Name& old = names_[i];
    if (old.gone) continue;
    ids.push_back(ids_[i]);
    signatures.push_back(signatures_[i]);
    names.push_back(Name{arena.size(), old.length, false});
    arena.append(arena_, old.offset, old.length);
  }
  ids_ = std::move(ids);
  signatures_ = std::move(signatures);
  names_ = std::move(names);
  arena_ = std::move(arena);
  gone_ = 0;
  unused_bytes_ = 0;
  group_signatures_.clear();
  std::fill(slices_.begin(), slices_.end(), 0);
  if (!ids_.empty()) Regroup(0, ids_.size() - 1);
}

std::vector<int64_t> NameIndex::Find(std::string_view folded_text, int64_t after_id,
                                     size_t max) const {
  std::vector<int64_t> found;
  if (max == 0) return found;
  const Signature want = SignatureOf(folded_text);
  std::shared_lock lock(mu_);
  const size_t n = ids_.size();
  size_t i =
      static_cast<size_t>(std::upper_bound(ids_.begin(), ids_.end(), after_id) - ids_.begin());
  const Signature* sig = signatures_.data();
  const std::string_view arena(arena_);
  // Whether name k is a match, once its signature passed.
  auto matches = [&](size_t k) {
    const Name& name = names_[k];
    return !name.gone && name.length >= folded_text.size() &&
           arena.substr(name.offset, name.length).find(folded_text) != std::string_view::npos;
  };
  // The slices of the text's bits, ANDed a word at a time, give the groups
  // (64 per word) whose combined signature has them all: a rare text skips
  // most of the array reading a few words per 256 names. In a group that
  // passes, the names' signatures are tested without branches and the
  // survivors looked at.
  std::vector<const uint64_t*> slices;
  for (uint64_t lo = want.lo; lo != 0; lo &= lo - 1) {
    slices.push_back(slices_.data() + static_cast<size_t>(__builtin_ctzll(lo)) * slice_words_);
  }
  for (uint64_t hi = want.hi; hi != 0; hi &= hi - 1) {
    slices.push_back(slices_.data() +
                     (64 + static_cast<size_t>(__builtin_ctzll(hi))) * slice_words_);
  }
  const size_t groups = group_signatures_.size();
  for (size_t word = i / kGroup / 64; word * 64 < groups; ++word) {
    uint64_t candidates = ~uint64_t{0};
    for (const uint64_t* slice : slices) candidates &= slice[word];
    if (word == i / kGroup / 64) candidates &= ~uint64_t{0} << (i / kGroup % 64);
    for (; candidates != 0; candidates &= candidates - 1) {
      const size_t g = word * 64 + static_cast<size_t>(__builtin_ctzll(candidates));
      if (g >= groups) break;
      const size_t begin = std::max(i, g * kGroup);
      const size_t end = std::min(n, (g + 1) * kGroup);
      uint32_t pass = 0;
      for (size_t j = begin; j < end; ++j)
        pass |= static_cast<uint32_t>(Holds(sig[j], want)) << (j - begin);
      for (; pass != 0; pass &= pass - 1) {
        const size_t j = begin + static_cast<size_t>(__builtin_ctz(pass));
        if (!matches(j)) continue;
        found.push_back(ids_[j]);
        if (found.size() == max) return found;
      }
    }
  }
  return found;
}

size_t NameIndex::size() const {
  std::shared_lock lock(mu_);
  return ids_.size() - gone_;
}

int64_t NameIndex::max_id() const {
  std::shared_lock lock(mu_);
  return ids_.empty() ? 0 : ids_.back();
}

size_t NameIndex::memory_bytes() const {
  std::shared_lock lock(mu_);
  return ids_.capacity() * sizeof(int64_t) + signatures_.capacity() * sizeof(Signature) +
         names_.capacity() * sizeof(Name) + group_signatures_.capacity() * sizeof(Signature) +
         slices_.capacity() * sizeof(uint64_t) + arena_.capacity();
}

}  // namespace ferry
