// Wildcards in paths, expanded against a home: `*`, `?` and `[...]` in any
// component, matched per component as a shell's glob does (fnmatch(3) with
// FNM_PERIOD: a leading dot is matched only by a dot in the pattern, so `*`
// leaves hidden files out). A backslash makes the next character literal.
//
// The walk lists only the directories the pattern reaches, follows no symlink
// (HomeFs never does), and stops at GlobLimits, so a pattern such as
// "*/*/*/*" cannot make the server read a whole tree.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/home_fs.h"
#include "core/rel_path.h"
#include "core/status.h"

namespace ferry {

// True if `pattern` holds a `*`, `?` or `[` that no backslash escapes.
bool HasGlobMeta(std::string_view pattern);

// `pattern` with the backslashes that escape `*`, `?`, `[`, `]` or `\` taken
// out: the literal name it spells. Other backslashes are kept, so a name that
// merely contains one is left as it is.
std::string GlobUnescape(std::string_view pattern);

struct GlobLimits {
  size_t max_matches = 10'000;    // paths returned
  size_t max_examined = 100'000;  // directory entries looked at, over the walk
};

struct GlobMatch {
  RelPath path;
  FileInfo info;  // info.name is the leaf
};

// The entries of `home` that `pattern` matches, sorted by path. Only
// directories are descended into; a symlink is matched but never entered.
// A pattern that matches nothing names the entry spelled exactly so, if one
// exists (as bash does without failglob), so "[draft].txt" still reaches a
// file of that name. NOT_FOUND "no match for ..." if neither; RESOURCE_EXHAUSTED
// past a limit, naming it.
Result<std::vector<GlobMatch>> ExpandGlob(const HomeFs& home, const RelPath& pattern,
                                          const GlobLimits& limits = {});

}  // namespace ferry
