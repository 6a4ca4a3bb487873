// What TAB completes in `ferry shell`: the first word to a command, later
// words to remote or local paths depending on the command and the argument.
// Pure: the listings come from the caller, so it is tested without a server.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/line_editor.h"
#include "core/status.h"

namespace ferry {

// kSync: a `sync` argument, remote when written ":PATH", local otherwise.
enum class PathKind { kNone, kRemote, kLocal, kSync };

struct DirectoryName {
  std::string name;
  bool is_dir = false;
};

// Lists the directory a partial path names ("" is the current directory, "a/"
// is a in it, "/a/" is absolute as the shell reads it).
using DirectoryLister = std::function<Result<std::vector<DirectoryName>>(const std::string& dir)>;

struct CompletionSources {
  std::vector<std::string> commands;  // every word a line may start with
  DirectoryLister list_remote;
  DirectoryLister list_local;
};

// What the word being typed names, given the words before it (the command
// first): a remote path, a local path, or nothing to complete.
PathKind ArgumentKind(const std::vector<std::string>& words_before);

// The completion of `before_cursor`. A unique match is inserted whole (a
// file then a space, a directory then its '/'); several extend the word to
// what they share, or, when that adds nothing, come back as `choices`. A
// listing that fails completes nothing.
LineCompletion CompleteShellLine(std::string_view before_cursor, const CompletionSources& sources);

// The commands each kind of argument is completed for; for tests that check
// they all exist.
std::vector<std::string> CommandsWithPathArguments();

}  // namespace ferry
