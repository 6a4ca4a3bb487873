// Talking to a person at a terminal: hidden password entry and yes/no questions.
#pragma once

#include <optional>
#include <string>

namespace ferry {

bool StdinIsTerminal();
bool StdoutIsTerminal();
// Reads a line from the terminal with echo off; nullopt without a terminal.
std::optional<std::string> ReadHidden(const std::string& prompt);
// Reads a visible line from the terminal; nullopt without a terminal.
std::optional<std::string> ReadVisible(const std::string& prompt);
// Asks on the terminal; false without one.
bool Confirm(const std::string& question);
// One line from stdin (for --password-stdin), without its newline.
std::optional<std::string> ReadStdinLine();

}  // namespace ferry
