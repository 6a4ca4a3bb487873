#include "cli/line_editor.h"

#include <fcntl.h>
#include <histedit.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace ferry {
namespace {

// Characters (not bytes) in `text` as the current locale reads them, which is
// how libedit counts when it deletes.
int CharCount(const std::string& text) {
  size_t n = std::mbstowcs(nullptr, text.c_str(), 0);
  return n == static_cast<size_t>(-1) ? static_cast<int>(text.size()) : static_cast<int>(n);
}

size_t TerminalWidth() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

bool IsBlank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

}  // namespace

void LineEditor::EditLineDeleter::operator()(editline* el) const { el_end(el); }
void LineEditor::HistoryDeleter::operator()(struct history* h) const { history_end(h); }

LineEditor::LineEditor(std::string history_path, Completer completer)
    : history_path_(std::move(history_path)), completer_(std::move(completer)) {
  // libedit reads and shows multibyte text (UTF-8 names) only in the user's
  // locale; LC_CTYPE changes nothing else ferry prints.
  std::setlocale(LC_CTYPE, "");
  history_.reset(history_init());
  HistEvent ev{};
  ::history(history_.get(), &ev, H_SETSIZE, kHistorySize);
  ::history(history_.get(), &ev, H_SETUNIQUE, 1);
  if (!history_path_.empty()) ::history(history_.get(), &ev, H_LOAD, history_path_.c_str());

  el_.reset(el_init("ferry", stdin, stdout, stderr));
  EditLine* el = el_.get();
  el_set(el, EL_CLIENTDATA, this);
  el_set(el, EL_EDITOR, "emacs");
  // libedit puts the terminal back when a signal ends the shell.
  el_set(el, EL_SIGNAL, 1);
  el_set(el, EL_PROMPT, &LineEditor::PromptText);
  el_set(el, EL_HIST, ::history, history_.get());
  // The wide call: el_set's narrow EL_ADDFN copies the two strings and never
  // frees them (a leak LeakSanitizer reports at exit); el_wset keeps pointers
  // to these literals, which live as long as the program.
  el_wset(el, EL_ADDFN, L"ferry-complete", L"complete a command or a path",
          &LineEditor::CompleteKey);
  el_set(el, EL_BIND, "^I", "ferry-complete", nullptr);
  // The user's own bindings (~/.editrc, as every libedit program reads it).
  el_source(el, nullptr);
}

LineEditor::~LineEditor() = default;

std::optional<std::string> LineEditor::ReadLine(const std::string& prompt) {
  prompt_ = prompt;
  for (;;) {
    // libedit draws the prompt first and sets the terminal up on its first
    // read; keys typed in between would meet the line discipline (Ctrl-D
    // lost, letters echoed twice). Set it up before the prompt shows.
    el_set(el_.get(), EL_PREP_TERM, 1);
    int count = 0;
    errno = 0;
    const char* line = el_gets(el_.get(), &count);
    if (line == nullptr) {
      // A signal that libedit handled (a window resize) interrupts the read.
      if (count < 0 && errno == EINTR) continue;
      return std::nullopt;
    }
    std::string text(line, static_cast<size_t>(count));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }
}

Status LineEditor::Remember(const std::string& line) {
  if (IsBlank(line)) return Status::Ok();
  HistEvent ev{};
  ::history(history_.get(), &ev, H_ENTER, line.c_str());
  return SaveHistory();
}

Status LineEditor::SaveHistory() const {
  if (history_path_.empty()) return Status::Ok();
  std::filesystem::path path(history_path_);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return Status::Internal(fmt::format("cannot keep the shell history: cannot create '{}': {}",
                                        path.parent_path().string(), ec.message()));
  }
  // Written beside and renamed into place: a reader (another shell starting)
  // never sees half a file. The history may hold names and commands that are
  // nobody else's business, hence 0600.
  std::string tmp = fmt::format("{}.{}.tmp", history_path_, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Internal(
        fmt::format("cannot keep the shell history in '{}': {}", tmp, std::strerror(errno)));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> out(::fdopen(fd, "w"), &std::fclose);
  if (!out) {
    ::close(fd);
    return Status::Internal(fmt::format("cannot keep the shell history: {}", std::strerror(errno)));
  }
  HistEvent ev{};
  bool written = ::history(history_.get(), &ev, H_SAVE_FP, out.get()) >= 0;
  bool closed = std::fclose(out.release()) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), history_path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::Internal(
        fmt::format("cannot write the shell history '{}': {}", history_path_, std::strerror(err)));
  }
  return Status::Ok();
}

char* LineEditor::PromptText(editline* el) {
  LineEditor* self = nullptr;
  el_get(el, EL_CLIENTDATA, &self);
  return self->prompt_.data();
}

unsigned char LineEditor::CompleteKey(editline* el, int /*key*/) {
  LineEditor* self = nullptr;
  el_get(el, EL_CLIENTDATA, &self);
  const LineInfo* info = el_line(el);
  std::string before(info->buffer, info->cursor);
  LineCompletion c = self->completer_(before);
  if (!c.choices.empty()) {
    std::string text = "\n" + FormatChoices(c.choices, TerminalWidth());
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return CC_REDISPLAY;
  }
  if (c.replace_bytes == 0 && c.insert.empty()) return CC_NORM;
  c.replace_bytes = std::min(c.replace_bytes, before.size());
  if (c.replace_bytes > 0) {
    el_deletestr(el, CharCount(before.substr(before.size() - c.replace_bytes)));
  }
  if (!c.insert.empty()) el_insertstr(el, c.insert.c_str());
  return CC_REFRESH;
}

std::string ShellHistoryPath() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/ferry/shell_history";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.local/state/ferry/shell_history";
}

std::string FormatChoices(const std::vector<std::string>& choices, size_t width) {
  size_t longest = 0;
  for (const auto& c : choices) longest = std::max(longest, c.size());
  size_t column = longest + 2;
  size_t per_line = std::max<size_t>(1, width / column);
  size_t lines = (choices.size() + per_line - 1) / per_line;
  std::string out;
  // Down the columns first, as ls lays names out.
  for (size_t row = 0; row < lines; ++row) {
    std::string line;
    for (size_t i = row; i < choices.size(); i += lines) {
      line += choices[i];
      if (i + lines < choices.size()) line.append(column - choices[i].size(), ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace ferry
