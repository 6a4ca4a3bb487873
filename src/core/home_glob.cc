#include "core/home_glob.h"

#include <fnmatch.h>

#include <utility>

#include <fmt/format.h>

namespace ferry {
namespace {

bool Escapable(char c) { return c == '*' || c == '?' || c == '[' || c == ']' || c == '\\'; }

bool Matches(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) == 0;
}

// Whatever exists at the pattern's literal spelling, as the fallback match.
Result<std::vector<GlobMatch>> Literal(const HomeFs& home, const RelPath& pattern) {
  RelPath literal;
  for (const auto& part : pattern.parts()) literal = literal.Child(GlobUnescape(part));
  auto info = home.Stat(literal);
  if (!info.ok()) {
    if (info.status().code() != Code::kNotFound) return info.status();
    return Status::NotFound(fmt::format("no match for '{}'", pattern.Display()));
  }
  return std::vector<GlobMatch>{{literal, *info}};
}

}  // namespace

bool HasGlobMeta(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size() && Escapable(pattern[i + 1])) {
      ++i;
    } else if (c == '*' || c == '?' || c == '[') {
      return true;
    }
  }
  return false;
}

std::string GlobUnescape(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size());
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size() && Escapable(pattern[i + 1])) ++i;
    out += pattern[i];
  }
  return out;
}

Result<std::vector<GlobMatch>> ExpandGlob(const HomeFs& home, const RelPath& pattern,
                                          const GlobLimits& limits) {
  if (!HasGlobMeta(pattern.Relative())) return Literal(home, pattern);
  // Breadth first, one component at a time; each level stays sorted because
  // HomeFs::List is, so the result is sorted by path.
  std::vector<GlobMatch> level(1);  // the root
  size_t examined = 0;
  const auto& parts = pattern.parts();
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    std::vector<GlobMatch> next;
    for (const auto& parent : level) {
      if (!HasGlobMeta(parts[i])) {
        RelPath child = parent.path.Child(GlobUnescape(parts[i]));
        auto info = home.Stat(child);
        if (!info.ok()) continue;  // absent here; other parents may have it
        if (!last && info->type != FileType::kDirectory) continue;
        next.push_back({std::move(child), std::move(info).value()});
      } else {
        auto entries = home.List(parent.path);
        if (!entries.ok()) continue;  // vanished or unreadable: nothing below it matches
        for (auto& e : *entries) {
          if (++examined > limits.max_examined) {
            return Status::ResourceExhausted(
                fmt::format("'{}' makes the server look at more than {} names; narrow it",
                            pattern.Display(), limits.max_examined));
          }
          if (!Matches(parts[i], e.name)) continue;
          if (!last && e.type != FileType::kDirectory) continue;
          RelPath child = parent.path.Child(e.name);
          next.push_back({std::move(child), std::move(e)});
        }
      }
      if (next.size() > limits.max_matches) {
        return Status::ResourceExhausted(fmt::format("'{}' matches more than {} names; narrow it",
                                                     pattern.Display(), limits.max_matches));
      }
    }
    level = std::move(next);
    if (level.empty()) break;
  }
  if (level.empty()) return Literal(home, pattern);
  return level;
}

}  // namespace ferry
