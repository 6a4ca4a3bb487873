// `ferry shell`: the file and job commands at a prompt, over one connection,
// with a remote current directory (cd, pwd), a local one (lcd, lpwd, lls, !cmd),
// and, on a terminal, line editing, history and completion (line_editor.h).
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/fail.h"
#include "cli/file_commands.h"
#include "cli/job_commands.h"
#include "cli/line_editor.h"
#include "cli/local_program.h"
#include "cli/prompt.h"
#include "cli/shell_completion.h"
#include "cli/shell_words.h"
#include "client/file_client.h"
#include "core/display_text.h"

namespace ferry {
namespace {

using Words = std::vector<std::string>;

// The commands that run over the connection; made afresh for every line, since
// CLI11 keeps what one parse stored in the bound variables.
std::unique_ptr<CLI::App> MakeRemoteCommands(FileCommandEnv& env) {
  auto app = std::make_unique<CLI::App>("ferry shell", "");
  app->require_subcommand(1);
  AddFileCommands(*app, env);
  AddJobCommands(*app, env);
  return app;
}

bool RunCd(const Words& words, FileCommandEnv& env) {
  std::string target = ShellPath(env.cwd, words.size() > 1 ? words[1] : "/");
  Run(env, [&](Connection& c) -> Status {
    auto st = StatRemote(c, target, false);
    if (!st.ok()) return st.status();
    if (st->entry().type() != v1::FILE_TYPE_DIRECTORY) {
      return Status::FailedPrecondition(fmt::format("'{}' is not a directory", words[1]));
    }
    env.cwd = target;
    return Status::Ok();
  });
  return true;
}

bool RunPwd(const Words&, FileCommandEnv& env) {
  std::cout << "/" << ForDisplay(env.cwd) << "\n";
  env.exit_code = 0;
  return true;
}

bool RunLcd(const Words& words, FileCommandEnv& env) {
  const char* home = std::getenv("HOME");
  std::string dir = words.size() > 1 ? words[1] : (home ? home : "/");
  env.exit_code =
      ::chdir(dir.c_str()) == 0 ? 0 : Fail(ErrnoStatus(errno, fmt::format("lcd '{}'", dir)));
  return true;
}

bool RunLpwd(const Words&, FileCommandEnv& env) {
  std::error_code ec;
  auto dir = std::filesystem::current_path(ec);
  if (ec) {
    env.exit_code = Fail(Status::Internal(fmt::format("lpwd: {}", ec.message())));
  } else {
    std::cout << ForDisplay(dir.string()) << "\n";
    env.exit_code = 0;
  }
  return true;
}

// Runs a local program; its exit status is the line's.
void RunLocal(const Words& argv, FileCommandEnv& env) {
  std::cout.flush();
  auto status = RunLocalProgram(argv);
  env.exit_code = status.ok() ? *status : Fail(status.status());
}

bool RunLls(const Words& words, FileCommandEnv& env) {
  Words argv = {"ls"};
  argv.insert(argv.end(), words.begin() + 1, words.end());
  RunLocal(argv, env);
  return true;
}

bool RunExit(const Words&, FileCommandEnv&) { return false; }
bool RunHelp(const Words&, FileCommandEnv& env);

// The commands the shell runs itself.
struct LocalCommand {
  const char* name;
  const char* usage;
  const char* help;
  bool (*run)(const Words& words, FileCommandEnv& env);  // false ends the shell
};

constexpr LocalCommand kLocalCommands[] = {
    {"cd", "[DIR]", "change the remote directory (default: your home)", RunCd},
    {"pwd", "", "print the remote directory", RunPwd},
    {"lcd", "[DIR]", "change the local directory (default: $HOME)", RunLcd},
    {"lpwd", "", "print the local directory", RunLpwd},
    {"lls", "[ARGS]", "list the local directory (runs ls ARGS)", RunLls},
    {"!", "[CMD]", "run CMD with /bin/sh in the local directory; alone: $SHELL", nullptr},
    {"help", "", "this list (COMMAND --help: a command's options)", RunHelp},
    {"exit", "", "leave the shell (also quit, Ctrl-D)", RunExit},
    {"quit", "", "leave the shell", RunExit},
};

const LocalCommand* FindLocal(const std::string& name) {
  // Other words people try for help.
  if (name == "?" || name == "-h" || name == "--help") return FindLocal("help");
  for (const auto& c : kLocalCommands) {
    if (c.run != nullptr && name == c.name) return &c;
  }
  return nullptr;
}

bool RunHelp(const Words&, FileCommandEnv& env) {
  auto app = MakeRemoteCommands(env);
  std::vector<std::pair<std::string, std::string>> rows;
  for (const CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    rows.emplace_back(sub->get_name(), sub->get_description());
  }
  for (const auto& c : kLocalCommands) {
    rows.emplace_back(fmt::format("{}{}{}", c.name, *c.usage ? " " : "", c.usage), c.help);
  }
  size_t width = 0;
  for (const auto& [name, _] : rows) width = std::max(width, name.size());
  std::cout << "Commands:\n";
  for (const auto& [name, help] : rows)
    std::cout << fmt::format("  {:<{}}  {}\n", name, width, help);
  env.exit_code = 0;
  return true;
}

// Runs a line that starts with '!': the rest with /bin/sh, or $SHELL alone.
void RunBang(const std::string& line, FileCommandEnv& env) {
  std::string command = line.substr(line.find('!') + 1);
  if (command.find_first_not_of(" \t") == std::string::npos) {
    const char* shell = std::getenv("SHELL");
    RunLocal({shell && *shell ? shell : "/bin/sh"}, env);
  } else {
    RunLocal({"/bin/sh", "-c", command}, env);
  }
}

void RunRemote(const Words& words, FileCommandEnv& env) {
  auto app = MakeRemoteCommands(env);
  const std::string& cmd = words[0];
  if (app->get_subcommands([&](CLI::App* s) { return s->check_name(cmd); }).empty()) {
    env.exit_code =
        Fail(Status::InvalidArgument(fmt::format("unknown command '{}'; try help", cmd)));
    return;
  }
  Words args(words.rbegin(), words.rend());  // CLI11 parses a reversed vector
  try {
    app->parse(args);
  } catch (const CLI::CallForHelp&) {
    auto parsed = app->get_subcommands();
    std::cout << (parsed.empty() ? app->help() : parsed.front()->help());
    env.exit_code = 0;
  } catch (const CLI::ParseError& e) {
    env.exit_code = Fail(Status::InvalidArgument(e.what()));
  }
}

// Runs one line; returns false when the shell should end.
bool RunLine(const std::string& line, FileCommandEnv& env) {
  size_t first = line.find_first_not_of(" \t");
  if (first != std::string::npos && line[first] == '!') {
    RunBang(line, env);
    return true;
  }
  auto words = SplitWords(line);
  if (!words.ok()) {
    env.exit_code = Fail(words.status());
    return true;
  }
  if (words->empty() || (*words)[0][0] == '#') return true;
  if (const LocalCommand* local = FindLocal((*words)[0])) return local->run(*words, env);
  RunRemote(*words, env);
  return true;
}

CompletionSources MakeCompletionSources(FileCommandEnv& env) {
  CompletionSources s;
  auto app = MakeRemoteCommands(env);
  for (const CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    s.commands.push_back(sub->get_name());
  }
  for (const auto& c : kLocalCommands) {
    if (c.run != nullptr) s.commands.emplace_back(c.name);
  }
  s.list_remote = [&env](const std::string& dir) -> Result<std::vector<DirectoryName>> {
    auto conn = env.connect();
    if (!conn.ok()) return conn.status();
    auto entries = ListRemote(**conn, ShellPath(env.cwd, dir));
    if (!entries.ok()) return entries.status();
    std::vector<DirectoryName> names;
    for (const auto& e : *entries) {
      names.push_back({e.name(), e.type() == v1::FILE_TYPE_DIRECTORY});
    }
    return names;
  };
  s.list_local = [](const std::string& dir) -> Result<std::vector<DirectoryName>> {
    std::error_code ec;
    std::filesystem::directory_iterator it(dir.empty() ? "." : dir, ec);
    if (ec) return Status::NotFound(ec.message());
    std::vector<DirectoryName> names;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;
      names.push_back({it->path().filename().string(), it->is_directory(type_ec)});
    }
    if (ec) return Status::NotFound(ec.message());
    return names;
  };
  return s;
}

// The lines of the session: through the line editor on a terminal, else plain
// lines from stdin, as a script pipes them in.
void RunSession(FileCommandEnv& env) {
  std::unique_ptr<LineEditor> editor;
  if (StdinIsTerminal() && StdoutIsTerminal()) {
    editor = std::make_unique<LineEditor>(ShellHistoryPath(), [&env](const std::string& before) {
      return CompleteShellLine(before, MakeCompletionSources(env));
    });
  }
  bool history_failed = false;
  for (;;) {
    std::string prompt = fmt::format("ferry:/{}> ", ForDisplay(env.cwd));
    std::optional<std::string> line;
    if (editor) {
      line = editor->ReadLine(prompt);
    } else {
      if (StdinIsTerminal()) std::cout << prompt << std::flush;
      std::string text;
      if (std::getline(std::cin, text)) line = std::move(text);
    }
    if (!line) break;
    if (editor) {
      // Said once: the shell works on without a history file.
      if (Status s = editor->Remember(*line); !s.ok() && !history_failed) {
        Fail(s);
        history_failed = true;
      }
    }
    if (!RunLine(*line, env)) break;
  }
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
    RunSession(env);
    if (interactive) std::cout << "\n";
    *exit_code = env.exit_code;
  });
}

}  // namespace ferry
