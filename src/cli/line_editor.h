// Line input on a terminal through libedit: emacs-style editing, a history
// kept in a file, and TAB completion supplied by the caller.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

struct editline;
struct history;

namespace ferry {

// What TAB does to the text before the cursor: the last `replace_bytes`
// bytes of it give way to `insert`; or, when `choices` is not empty, the
// line stays and the choices are listed under it.
struct LineCompletion {
  size_t replace_bytes = 0;
  std::string insert;
  std::vector<std::string> choices;
};

// Owns one libedit session and its history. Single-threaded; one per process,
// since libedit's terminal handling is process-wide.
class LineEditor {
 public:
  using Completer = std::function<LineCompletion(const std::string& before_cursor)>;

  // REQUIRES: stdin and stdout are terminals. Loads the history from
  // `history_path` when it exists ("" keeps no history file).
  LineEditor(std::string history_path, Completer completer);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  // The next line, without its line break; nullopt at the end of input (Ctrl-D
  // on an empty line) or when the terminal is gone.
  std::optional<std::string> ReadLine(const std::string& prompt);

  // Adds `line` to the history, unless it is blank or repeats the last entry,
  // and writes the history file (mode 0600, at most kHistorySize entries).
  // The error says why the file could not be written; the entry is kept.
  Status Remember(const std::string& line);

  static constexpr int kHistorySize = 1000;

 private:
  struct EditLineDeleter {
    void operator()(editline* el) const;
  };
  struct HistoryDeleter {
    void operator()(struct history* h) const;
  };
  static char* PromptText(editline* el);
  static unsigned char CompleteKey(editline* el, int key);
  Status SaveHistory() const;

  std::string history_path_;
  Completer completer_;
  std::string prompt_;
  std::unique_ptr<struct history, HistoryDeleter> history_;
  std::unique_ptr<editline, EditLineDeleter> el_;
};

// Where `ferry shell` keeps its history: $XDG_STATE_HOME/ferry/shell_history,
// or ~/.local/state/ferry/shell_history.
std::string ShellHistoryPath();

// `choices` laid out in columns that fit `width`, each line ending in '\n'.
std::string FormatChoices(const std::vector<std::string>& choices, size_t width);

}  // namespace ferry
