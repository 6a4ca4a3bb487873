// ferry: one binary, a table of subcommands. No business logic here.
#include <CLI/CLI.hpp>

#include <memory>

#include <fmt/format.h>

#include "cli/client_settings.h"
#include "cli/commands.h"
#include "cli/completion.h"
#include "cli/directory_commands.h"
#include "cli/fail.h"
#include "cli/fetch_command.h"
#include "cli/file_commands.h"
#include "cli/job_commands.h"
#include "cli/peer_commands.h"
#include "cli/version.h"
#include "core/display_text.h"
#include "core/process_tuning.h"
#include "core/secrets.h"

int main(int argc, char** argv) {
  using namespace ferry;
  TuneAllocatorForStreaming();
  IgnoreBrokenPipes();
  if (Status s = InitCrypto(); !s.ok()) return Fail(s);

  CLI::App app("ferry: self-hosted file sharing", "ferry");
  app.require_subcommand(1);
  app.fallthrough();
  // A command line ferry cannot parse fails like any other command: one line
  // "ferry: INVALID_ARGUMENT: ..." (with the parser's exit status).
  app.failure_message([](const CLI::App* parsed, const CLI::Error& e) {
    std::string what = e.what();
    // CLI11 asks for a subcommand when the word given is none of them.
    auto left = parsed->remaining(true);
    if (e.get_name() == "RequiredError" && what.find("subcommand") != std::string::npos &&
        !left.empty()) {
      what = fmt::format("unknown command '{}'", left.front());
    }
    return fmt::format("ferry: INVALID_ARGUMENT: {} (see ferry --help, or ferry COMMAND --help)\n",
                       ForDisplay(what));
  });
  AddVersionCommand(app);
  int exit_code = 0;

  ClientFlags flags;
  AddClientFlags(app, flags);
  std::unique_ptr<Connection> connection;
  FileCommandEnv env;
  env.connect = [&]() -> Result<Connection*> {
    if (!connection) {
      auto options = ResolveClientOptions(flags);
      if (!options.ok()) return options.status();
      auto opened = Connection::Open(*options);
      if (!opened.ok()) return opened.status();
      connection = std::move(opened).value();
    }
    return connection.get();
  };
  AddFileCommands(app, env);
  AddJobCommands(app, env);
  AddShellCommand(app, flags, &exit_code);
  AddServerCommand(app, &exit_code);
  AddWorkerCommand(app, &exit_code);
  AddDirectoryCommand(app, &exit_code);
  AddDirectoryClientCommands(app, flags, &exit_code);
  AddPeerCommand(app, flags, &exit_code);
  AddFetchCommand(app, flags, &exit_code);
  AddUserCommands(app, &exit_code);
  AddLogCommand(app, &exit_code);
  AddCompletionCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  connection.reset();  // log out before exiting
  return exit_code != 0 ? exit_code : env.exit_code;
}
