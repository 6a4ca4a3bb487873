#include "cli/fetch_command.h"

#include <unistd.h>

#include <iostream>
#include <memory>
#include <stop_token>

#include <fmt/format.h>

#include "cli/directory_commands.h"
#include "cli/fail.h"
#include "client/progress.h"
#include "core/display_text.h"
#include "core/logging.h"
#include "core/secrets.h"
#include "core/sha256.h"
#include "net/daemon.h"
#include "peer/downloader.h"

namespace ferry {
namespace {

struct FetchArgs {
  std::string text, sha256, to = ".";
  bool force = false, password_stdin = false;
};

Status Fetch(dirclient::DirectoryClient& client, const FetchArgs& a) {
  // SIGINT and SIGTERM stop the download cleanly: calls cancelled, every
  // verified chunk recorded, so running the command again resumes. Taken
  // before the download starts its threads; a second signal exits at once.
  Daemon signals;
  auto hit = FindContent(client, a.text, a.sha256);
  if (!hit.ok()) return hit.status();
  DownloadRequest request;
  request.sha256 = hit->sha256;
  request.name = hit->name;
  request.to_dir = a.to;
  request.replace = a.force;
  Progress progress(hit->name, hit->size, ::isatty(STDOUT_FILENO) == 1);
  auto observer = [&progress](const DownloadProgress& p) {
    progress.set_note(fmt::format("{} peer{}", p.peers_in_use, p.peers_in_use == 1 ? "" : "s"));
    progress.Update(p.done_bytes);
  };
  std::stop_source stop;
  Result<DownloadResult> done = Status::Aborted("not run");
  DaemonStop how;
  how.what_happens = "stopping the download and keeping its verified chunks";
  how.second_signal_exits = true;
  signals.Run(
      [&] { done = Download(client, request, DownloadOptions{}, stop.get_token(), observer); },
      [&] { stop.request_stop(); }, how);
  if (!done.ok()) return done.status();
  progress.Finish();
  std::cout << fmt::format("fetched '{}': {}\n", ForDisplay(done->path),
                           DownloadSummary(done->progress));
  return Status::Ok();
}

}  // namespace

void AddFetchCommand(CLI::App& app, ClientFlags& flags, int* exit_code) {
  auto a = std::make_shared<FetchArgs>();
  auto* cmd = app.add_subcommand(
      "fetch",
      "download a file from every online peer that shares it, each chunk verified on arrival");
  cmd->add_option("text", a->text, "a part of the file name (must match exactly one file)");
  cmd->add_option("--sha256", a->sha256, "the file's SHA-256 (64 hex digits)");
  cmd->add_option("--to", a->to, "the folder to put it in")->capture_default_str();
  cmd->add_flag("--force", a->force, "replace a file of the same name there");
  cmd->add_flag("--password-stdin", a->password_stdin,
                "read the password from standard input (else FERRY_PASSWORD, else a prompt)");
  cmd->callback([&app, &flags, a, exit_code] {
    // Checked before any prompt for a password.
    if (a->text.empty() == a->sha256.empty()) {
      *exit_code = Fail(Status::InvalidArgument("give either TEXT or --sha256 HEX"));
      return;
    }
    if (!a->sha256.empty() && !IsSha256Hex(a->sha256)) {
      *exit_code = Fail(Status::InvalidArgument(
          fmt::format("'{}' is not a SHA-256 (64 hex digits)", ForDisplay(a->sha256))));
      return;
    }
    // What the download logs (peers dropped, a resume) goes to stderr.
    if (Status s = InitLogging("", false); !s.ok()) {
      *exit_code = Fail(s);
      return;
    }
    CLI::Option* url = app.get_option("--directory");
    auto login = ResolveDirectoryLogin(flags, url->count() > 0 ? url->as<std::string>() : "",
                                       a->password_stdin, false);
    if (!login.ok()) {
      *exit_code = Fail(login.status());
      return;
    }
    Status s = [&]() -> Status {
      auto client = dirclient::DirectoryClient::Open(login->options);
      if (!client.ok()) return client.status();
      auto session = (*client)->Login(login->user, login->password);
      if (!session.ok()) return session.status();
      Status fetched = Fetch(**client, *a);
      (void)(*client)->Logout();
      return fetched;
    }();
    Wipe(login->password);
    *exit_code = s.ok() ? 0 : Fail(s);
  });
}

}  // namespace ferry
