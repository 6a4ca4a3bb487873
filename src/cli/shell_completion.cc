#include "cli/shell_completion.h"

#include <algorithm>
#include <array>

#include "cli/shell_words.h"
#include "core/display_text.h"

namespace ferry {
namespace {

// The kind of a command's first path argument and of those after it.
struct PathArguments {
  std::string_view command;
  PathKind first;
  PathKind later;
};

constexpr std::array kPathArguments = {
    PathArguments{"ls", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"stat", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"mkdir", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"touch", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"rm", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"mv", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"head", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"cd", PathKind::kRemote, PathKind::kNone},
    PathArguments{"put", PathKind::kLocal, PathKind::kRemote},
    PathArguments{"get", PathKind::kRemote, PathKind::kLocal},
    PathArguments{"zip", PathKind::kRemote, PathKind::kRemote},
    PathArguments{"unzip", PathKind::kRemote, PathKind::kNone},
    PathArguments{"encrypt", PathKind::kRemote, PathKind::kNone},
    PathArguments{"decrypt", PathKind::kRemote, PathKind::kNone},
    PathArguments{"sync", PathKind::kSync, PathKind::kSync},
    PathArguments{"lcd", PathKind::kLocal, PathKind::kNone},
    PathArguments{"lls", PathKind::kLocal, PathKind::kLocal},
};

// Options that take the next word as their value, and what that value is.
struct OptionValue {
  std::string_view option;
  PathKind kind;
};

constexpr std::array kOptionValues = {
    OptionValue{"--to", PathKind::kRemote},
    OptionValue{"--passphrase-file", PathKind::kLocal},
    OptionValue{"--limit-rate", PathKind::kNone},
    OptionValue{"-c", PathKind::kNone},
    OptionValue{"--bytes", PathKind::kNone},
    OptionValue{"--limit", PathKind::kNone},
};

const OptionValue* FindOptionValue(std::string_view word) {
  for (const auto& o : kOptionValues) {
    if (o.option == word) return &o;
  }
  return nullptr;
}

std::string CommonPrefix(const std::vector<std::string>& names) {
  std::string common = names.front();
  for (const auto& n : names) {
    size_t i = 0;
    while (i < common.size() && i < n.size() && common[i] == n[i]) ++i;
    common.resize(i);
  }
  return common;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// `candidates` (whole words, a directory's ending in '/') for the word the
// last `replace_bytes` bytes hold, whose value is `typed`; `shown` are the
// names listed when the choice is the user's.
LineCompletion Resolve(size_t replace_bytes, const std::string& typed,
                       std::vector<std::string> candidates, std::vector<std::string> shown) {
  LineCompletion out;
  if (candidates.empty()) return out;
  if (candidates.size() == 1) {
    const std::string& c = candidates.front();
    out.replace_bytes = replace_bytes;
    out.insert = EscapeWord(c) + (c.back() == '/' ? "" : " ");
    return out;
  }
  std::string common = CommonPrefix(candidates);
  if (common.size() > typed.size()) {
    out.replace_bytes = replace_bytes;
    out.insert = EscapeWord(common);
    return out;
  }
  std::sort(shown.begin(), shown.end());
  out.choices = std::move(shown);
  return out;
}

LineCompletion CompletePath(size_t replace_bytes, const std::string& typed,
                            const DirectoryLister& list) {
  if (!list || StartsWith(typed, "-")) return {};
  size_t slash = typed.rfind('/');
  std::string dir = slash == std::string::npos ? "" : typed.substr(0, slash + 1);
  std::string prefix = typed.substr(dir.size());
  auto entries = list(dir);
  if (!entries.ok()) return {};
  std::vector<std::string> candidates, shown;
  for (const auto& e : *entries) {
    // Hidden names only when asked for, as shells do; a name that cannot be
    // shown as it is (control characters, invalid UTF-8) cannot be typed either.
    if (!StartsWith(e.name, prefix) || e.name == "." || e.name == "..") continue;
    if (StartsWith(e.name, ".") && !StartsWith(prefix, ".")) continue;
    if (!IsPlainDisplay(e.name)) continue;
    std::string tail = e.name + (e.is_dir ? "/" : "");
    candidates.push_back(dir + tail);
    shown.push_back(std::move(tail));
  }
  return Resolve(replace_bytes, typed, std::move(candidates), std::move(shown));
}

}  // namespace

PathKind ArgumentKind(const std::vector<std::string>& words_before) {
  if (words_before.empty()) return PathKind::kNone;
  const std::string& command = words_before.front();
  // `!cmd ARGS` runs locally: its arguments are local paths.
  if (StartsWith(command, "!")) return PathKind::kLocal;
  const PathArguments* spec = nullptr;
  for (const auto& p : kPathArguments) {
    if (p.command == command) spec = &p;
  }
  if (spec == nullptr) return PathKind::kNone;
  size_t positional = 0;
  for (size_t i = 1; i < words_before.size(); ++i) {
    const std::string& w = words_before[i];
    if (!StartsWith(w, "-")) {
      ++positional;
    } else if (FindOptionValue(w) != nullptr && ++i == words_before.size()) {
      return FindOptionValue(w)->kind;  // the word being typed is this option's value
    }
  }
  return positional == 0 ? spec->first : spec->later;
}

LineCompletion CompleteShellLine(std::string_view before_cursor, const CompletionSources& sources) {
  ShellLine line = TokenizeShellLine(before_cursor);
  std::string typed;
  size_t replace_bytes = 0;
  if (line.ends_in_word) {
    typed = line.words.back().text;
    replace_bytes = before_cursor.size() - line.words.back().start;
    line.words.pop_back();
  }
  if (line.words.empty()) {
    std::vector<std::string> matches;
    for (const auto& c : sources.commands) {
      if (StartsWith(c, typed)) matches.push_back(c);
    }
    return Resolve(replace_bytes, typed, matches, matches);
  }
  std::vector<std::string> before;
  for (auto& w : line.words) before.push_back(std::move(w.text));
  switch (ArgumentKind(before)) {
    case PathKind::kRemote:
      return CompletePath(replace_bytes, typed, sources.list_remote);
    case PathKind::kLocal:
      return CompletePath(replace_bytes, typed, sources.list_local);
    case PathKind::kSync:
      // ":PATH" is remote: the colon stays and what follows it is completed
      // (only when typed bare, not inside quotes).
      if (StartsWith(typed, ":") && before_cursor[before_cursor.size() - replace_bytes] == ':') {
        return CompletePath(replace_bytes - 1, typed.substr(1), sources.list_remote);
      }
      return CompletePath(replace_bytes, typed, sources.list_local);
    case PathKind::kNone:
      break;
  }
  return {};
}

std::vector<std::string> CommandsWithPathArguments() {
  std::vector<std::string> out;
  for (const auto& p : kPathArguments) out.emplace_back(p.command);
  return out;
}

}  // namespace ferry
