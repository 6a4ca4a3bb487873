// `ferry shell`: the file commands at a prompt, over one connection, with a
// remote current directory (cd, pwd) and a local one (lcd).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/fail.h"
#include "cli/file_commands.h"
#include "cli/prompt.h"
#include "client/file_client.h"

namespace ferry {

Result<std::vector<std::string>> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        cur += line[++i];
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote != 0) return Status::InvalidArgument("unterminated quote");
  if (in_word) words.push_back(std::move(cur));
  return words;
}

namespace {

// Runs one line; returns false when the shell should end.
bool RunLine(const std::string& line, FileCommandEnv& env) {
  auto words = SplitWords(line);
  if (!words.ok()) {
    env.exit_code = Fail(words.status());
    return true;
  }
  if (words->empty() || (*words)[0][0] == '#') return true;
  const std::string& cmd = (*words)[0];
  if (cmd == "exit" || cmd == "quit") return false;
  if (cmd == "help" || cmd == "?") {
    CLI::App help("ferry shell", "");
    AddFileCommands(help, env);
    std::cout << help.help() << "Also: cd DIR, pwd, lcd DIR (local directory), exit\n";
    env.exit_code = 0;
    return true;
  }
  if (cmd == "pwd") {
    std::cout << "/" << env.cwd << "\n";
    env.exit_code = 0;
    return true;
  }
  if (cmd == "cd") {
    std::string target = ShellPath(env.cwd, words->size() > 1 ? (*words)[1] : "/");
    auto conn = env.connect();
    if (!conn.ok()) {
      env.exit_code = Fail(conn.status());
      return true;
    }
    auto st = StatRemote(**conn, target, false);
    if (!st.ok()) {
      env.exit_code = Fail(st.status());
    } else if (st->entry().type() != v1::FILE_TYPE_DIRECTORY) {
      env.exit_code =
          Fail(Status::FailedPrecondition(fmt::format("'{}' is not a directory", (*words)[1])));
    } else {
      env.cwd = target;
      env.exit_code = 0;
    }
    return true;
  }
  if (cmd == "lcd") {
    const char* home = std::getenv("HOME");
    std::string dir = words->size() > 1 ? (*words)[1] : (home ? home : "/");
    if (::chdir(dir.c_str()) != 0) {
      env.exit_code = Fail(ErrnoStatus(errno, fmt::format("lcd '{}'", dir)));
    } else {
      env.exit_code = 0;
    }
    return true;
  }

  CLI::App app("ferry shell: ls stat mkdir touch rm mv put get head, plus cd pwd lcd exit", "");
  app.require_subcommand(1);
  AddFileCommands(app, env);
  std::vector<std::string> args(words->rbegin(), words->rend());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    env.exit_code = 0;
  } catch (const CLI::ParseError& e) {
    env.exit_code = Fail(Status::InvalidArgument(e.what()));
  }
  return true;
}

}  // namespace

void AddShellCommand(CLI::App& app, ClientFlags& flags, int* exit_code) {
  auto* cmd = app.add_subcommand("shell", "an interactive prompt over one connection");
  cmd->callback([&flags, exit_code] {
    auto options = ResolveClientOptions(flags);
    if (!options.ok()) {
      *exit_code = Fail(options.status());
      return;
    }
    auto opened = Connection::Open(*options);
    if (!opened.ok()) {
      *exit_code = Fail(opened.status());
      return;
    }
    std::unique_ptr<Connection> conn = std::move(opened).value();
    FileCommandEnv env;
    env.in_shell = true;
    env.connect = [&conn]() -> Result<Connection*> { return conn.get(); };
    bool interactive = StdinIsTerminal();
    if (interactive) {
      std::cout << fmt::format("connected to {} as {}; type help for commands, exit to leave\n",
                               conn->server(), conn->user());
    }
    std::string line;
    for (;;) {
      if (interactive) std::cout << fmt::format("ferry:/{}> ", env.cwd) << std::flush;
      if (!std::getline(std::cin, line)) break;
      if (!RunLine(line, env)) break;
    }
    if (interactive) std::cout << "\n";
    *exit_code = env.exit_code;
  });
}

}  // namespace ferry
