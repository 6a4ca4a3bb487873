// Test support: drive a program that insists on a terminal (age reads
// passphrases only from its tty) through a pseudo-terminal.
#pragma once

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.h"

namespace ferry::testing {

struct Dialog {
  std::string prompt;  // what to wait for
  std::string answer;  // the line to type then
};

// Runs `argv` (argv[0] a path) on a new pseudo-terminal, since age reads
// passphrases only from its terminal, typing each answer once its prompt has
// appeared. Returns the exit code, or -1 on a signal or after 60 s.
inline int RunOnPty(std::vector<std::string> argv, const std::vector<Dialog>& dialog,
                    std::string* transcript) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  UniqueFd terminal(master);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // Reads what the child printed; false once it closed the terminal or time ran out.
  auto read_some = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{terminal.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[1024];
    ssize_t n = ::read(terminal.get(), buf, sizeof buf);
    if (n <= 0) return false;  // EIO once the child is gone
    transcript->append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t seen = 0;
  bool open = true;
  for (const Dialog& step : dialog) {
    size_t at = std::string::npos;
    while (open && (at = transcript->find(step.prompt, seen)) == std::string::npos) {
      open = read_some();
    }
    if (!open) break;
    seen = at + step.prompt.size();
    std::string line = step.answer + "\n";
    if (::write(terminal.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      break;
    }
  }
  while (open) open = read_some();
  if (std::chrono::steady_clock::now() >= deadline) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A program on a pseudo-terminal of 24x100 that a test types into as a person
// would, reading its output until the text it expects shows.
class PtySession {
 public:
  // Starts `argv` (argv[0] a path); pid() is -1 if it could not start.
  explicit PtySession(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    winsize size{};
    size.ws_row = 24;
    size.ws_col = 100;
    int master = -1;
    pid_ = ::forkpty(&master, nullptr, nullptr, &size);
    if (pid_ == 0) {
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (pid_ > 0) terminal_ = UniqueFd(master);
  }
  ~PtySession() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  pid_t pid() const { return pid_; }
  // Everything the program wrote to the terminal so far.
  const std::string& transcript() const { return transcript_; }

  // Types `keys` (escape sequences for arrows, "\r" for Enter).
  bool Type(std::string_view keys) {
    return ::write(terminal_.get(), keys.data(), keys.size()) == static_cast<ssize_t>(keys.size());
  }

  // Waits until `text` shows after what the last successful wait matched;
  // false once the program closed the terminal or `timeout` passed.
  bool WaitFor(std::string_view text, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t at = transcript_.find(text, seen_);
      if (at != std::string::npos) {
        seen_ = at + text.size();
        return true;
      }
      if (!ReadSome(deadline)) return false;
    }
  }

  // Waits for the program to end, reading what it still writes; its exit code,
  // or -1 on a signal or when `timeout` passed.
  int Wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (ReadSome(deadline)) {
    }
    int status = 0;
    if (std::chrono::steady_clock::now() >= deadline) ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  bool ReadSome(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{terminal_.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(terminal_.get(), buf, sizeof buf);
    if (n <= 0) return false;  // EIO once the program is gone
    transcript_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  UniqueFd terminal_;
  std::string transcript_;
  size_t seen_ = 0;
};

}  // namespace ferry::testing
