#include "cli/prompt.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "core/unique_fd.h"

namespace ferry {
namespace {

// Prompts go to and answers come from the controlling terminal, so they work
// even when stdout is piped.
std::optional<std::string> ReadFromTty(const std::string& prompt, bool echo) {
  UniqueFd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty.valid() || !StdinIsTerminal()) return std::nullopt;
  (void)!::write(tty.get(), prompt.data(), prompt.size());
  termios old{};
  bool restore = false;
  if (!echo && ::tcgetattr(tty.get(), &old) == 0) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(tty.get(), TCSAFLUSH, &quiet) == 0;
  }
  std::string line;
  char c;
  while (::read(tty.get(), &c, 1) == 1 && c != '\n') line += c;
  if (restore) {
    ::tcsetattr(tty.get(), TCSAFLUSH, &old);
    (void)!::write(tty.get(), "\n", 1);
  }
  return line;
}

}  // namespace

bool StdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }
bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::optional<std::string> ReadHidden(const std::string& prompt) {
  return ReadFromTty(prompt, false);
}
std::optional<std::string> ReadVisible(const std::string& prompt) {
  return ReadFromTty(prompt, true);
}

bool Confirm(const std::string& question) {
  auto answer = ReadVisible(question);
  return answer && (*answer == "y" || *answer == "Y" || *answer == "yes");
}

std::optional<std::string> ReadStdinLine() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace ferry
