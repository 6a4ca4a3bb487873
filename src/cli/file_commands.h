// The file commands (ls, stat, mkdir, touch, rm, mv, put, get, head), shared by
// the one-shot CLI and `ferry shell`.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "client/connection.h"
#include "core/status.h"

namespace ferry {

struct FileCommandEnv {
  // Opens the connection on first use and returns it.
  std::function<Result<Connection*>()> connect;
  // In the shell, relative paths are taken from `cwd` ("" is the home) and
  // "/x" means x in the home; outside it, paths go to the server as typed.
  bool in_shell = false;
  std::string cwd;
  int exit_code = 0;

  std::string Remote(const std::string& arg) const;
};

void AddFileCommands(CLI::App& app, FileCommandEnv& env);

// Runs `body` with the connection and records its outcome as env.exit_code.
void Run(FileCommandEnv& env, const std::function<Status(Connection&)>& body);

// Lexically joins `cwd` and `arg` for the shell; ".." past the home is kept, so
// the server refuses it.
std::string ShellPath(const std::string& cwd, const std::string& arg);

}  // namespace ferry
