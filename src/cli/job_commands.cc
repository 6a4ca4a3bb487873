#include "cli/job_commands.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "cli/fail.h"
#include "cli/prompt.h"
#include "client/job_client.h"
#include "client/progress.h"
#include "core/display_text.h"
#include "core/rel_path.h"
#include "core/secrets.h"

namespace ferry {
namespace {

constexpr size_t kMaxPassphraseFileBytes = 4096;

struct JobArgs {
  std::vector<std::string> paths;
  std::string to;
  std::string passphrase_file;
  bool force = false;
  bool wait = false;
  int limit = 20;
};

std::string FormatUnixMs(int64_t ms) {
  if (ms == 0) return "-";
  time_t secs = static_cast<time_t>(ms / 1000);
  tm t{};
  localtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t);
  return buf;
}

std::string FormatAge(int64_t created_ms) {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  int64_t s = std::max<int64_t>(0, (now_ms - created_ms) / 1000);
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200) return fmt::format("{}m", s / 60);
  if (s < 2 * 86400) return fmt::format("{}h", s / 3600);
  return fmt::format("{}d", s / 86400);
}

std::string FormatProgress(const v1::Job& job) {
  if (job.state() == v1::JOB_STATE_DONE) return "100%";
  if (job.total_bytes() == 0) return "-";
  return fmt::format("{}%", job.done_bytes() * 100 / job.total_bytes());
}

// The job's outcome as a Status: OK when done.
Status Outcome(const v1::Job& job) {
  switch (job.state()) {
    case v1::JOB_STATE_DONE:
      return Status::Ok();
    case v1::JOB_STATE_CANCELLED:
      return Status::Cancelled(fmt::format("job {} was cancelled", job.id()));
    default:
      return Status(static_cast<Code>(job.error_code() == 0 ? 2 : job.error_code()),
                    fmt::format("job {} failed: {}", job.id(), ForDisplay(job.error())));
  }
}

// Follows a job to its end with a progress bar on a terminal; prints the
// result path on success.
Status Follow(Connection& c, const std::string& id) {
  std::unique_ptr<Progress> bar;
  bool terminal = StdoutIsTerminal();
  auto job = WatchJob(c, id, [&](const v1::Job& j) {
    if (!terminal || j.total_bytes() == 0) return;
    if (!bar) {
      bar = std::make_unique<Progress>(fmt::format("{} {}", KindWord(j.kind()), id.substr(0, 8)),
                                       static_cast<int64_t>(j.total_bytes()), true,
                                       Progress::Kind::kWork);
    }
    bar->Update(static_cast<int64_t>(j.done_bytes()));
  });
  if (bar && job.ok() && job->state() == v1::JOB_STATE_DONE) {
    // The job ran on the server, maybe before this command watched it: its
    // own start and end times say how long it took.
    if (job->started_unix_ms() > 0 && job->finished_unix_ms() >= job->started_unix_ms()) {
      bar->Finish(std::chrono::milliseconds(job->finished_unix_ms() - job->started_unix_ms()));
    } else {
      bar->Finish();
    }
  }
  if (!job.ok()) return job.status();
  FERRY_RETURN_IF_ERROR(Outcome(*job));
  std::cout << ForDisplay(job->result()) << "\n";
  return Status::Ok();
}

void AddSubmitCommand(CLI::App& app, FileCommandEnv& env, v1::JobKind kind, const char* name,
                      const char* description, const char* to_help) {
  auto a = std::make_shared<JobArgs>();
  auto* cmd = app.add_subcommand(name, description);
  if (kind == v1::JOB_KIND_ZIP) {
    cmd->add_option("paths", a->paths, "files or directories to put in the archive")->required();
  } else {
    cmd->add_option("path", a->paths, "the file")->required()->expected(1);
  }
  cmd->add_option("--to", a->to, to_help);
  cmd->add_flag(
      "--force", a->force,
      kind == v1::JOB_KIND_UNZIP ? "overwrite existing files" : "replace existing output");
  cmd->add_flag("--wait", a->wait, "follow the job to its end; its outcome is the exit status");
  bool secret = kind == v1::JOB_KIND_ENCRYPT || kind == v1::JOB_KIND_DECRYPT;
  if (secret) {
    cmd->add_option("--passphrase-file", a->passphrase_file,
                    "read the passphrase from this file (else FERRY_PASSPHRASE, else a prompt)");
  }
  cmd->callback([&env, a, kind, secret] {
    v1::SubmitJobRequest req;
    req.set_kind(kind);
    for (const auto& p : a->paths) req.add_paths(env.Remote(p));
    if (!a->to.empty()) req.set_to(env.Remote(a->to));
    req.set_force(a->force);
    if (secret) {
      auto passphrase = ResolvePassphrase(a->passphrase_file, kind == v1::JOB_KIND_ENCRYPT);
      if (!passphrase.ok()) {
        env.exit_code = Fail(passphrase.status());
        return;
      }
      req.set_passphrase(*passphrase);
      Wipe(*passphrase);
    }
    Run(env, [&](Connection& c) -> Status {
      auto job = SubmitJob(c, req);
      Wipe(*req.mutable_passphrase());
      if (!job.ok()) return job.status();
      std::cout << job->id() << std::endl;
      if (!a->wait) return Status::Ok();
      return Follow(c, job->id());
    });
  });
}

void PrintJob(const v1::Job& j) {
  std::string paths;
  for (const auto& p : j.paths()) paths += (paths.empty() ? "" : ", ") + ForDisplay(p);
  std::cout << fmt::format("id:        {}\n", j.id());
  std::cout << fmt::format("kind:      {}\n", KindWord(j.kind()));
  std::cout << fmt::format("state:     {}{}\n", StateWord(j.state()),
                           j.cancel_requested() && !IsFinal(j.state()) ? " (cancelling)" : "");
  std::cout << fmt::format("input:     {}\n", paths);
  if (!j.result().empty()) {
    std::cout << fmt::format("result:    {}\n", ForDisplay(j.result()));
  } else if (!j.to().empty()) {
    std::cout << fmt::format("output:    {}\n", ForDisplay(j.to()));
  }
  std::cout << fmt::format("progress:  {} ({} of {})\n", FormatProgress(j),
                           HumanBytes(static_cast<double>(j.done_bytes())),
                           HumanBytes(static_cast<double>(j.total_bytes())));
  std::cout << fmt::format("created:   {}\n", FormatUnixMs(j.created_unix_ms()));
  std::cout << fmt::format("started:   {}\n", FormatUnixMs(j.started_unix_ms()));
  std::cout << fmt::format("finished:  {}\n", FormatUnixMs(j.finished_unix_ms()));
  std::cout << fmt::format("attempts:  {}\n", j.attempts());
  if (!j.error().empty()) std::cout << fmt::format("error:     {}\n", ForDisplay(j.error()));
}

}  // namespace

Result<std::string> ResolvePassphrase(const std::string& passphrase_file, bool confirm) {
  if (!passphrase_file.empty()) {
    std::ifstream in(passphrase_file, std::ios::binary);
    if (!in) return Status::NotFound(fmt::format("cannot read '{}'", passphrase_file));
    std::string text(kMaxPassphraseFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxPassphraseFileBytes) {
      Wipe(text);
      return Status::InvalidArgument(
          fmt::format("'{}' is too long for a passphrase file", passphrase_file));
    }
    // One trailing line break is the file's, not the passphrase's.
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) return Status::InvalidArgument(fmt::format("'{}' is empty", passphrase_file));
    return text;
  }
  if (const char* env = std::getenv("FERRY_PASSPHRASE"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  auto first = ReadHidden("Passphrase: ");
  if (!first) {
    return Status::InvalidArgument(
        "no passphrase: give --passphrase-file, set FERRY_PASSPHRASE, or run on a terminal");
  }
  if (first->empty()) return Status::InvalidArgument("the passphrase is empty");
  if (confirm) {
    auto second = ReadHidden("Passphrase (again): ");
    bool same = second && *second == *first;
    if (second) Wipe(*second);
    if (!same) {
      Wipe(*first);
      return Status::InvalidArgument("the passphrases do not match");
    }
  }
  return std::move(*first);
}

void AddJobCommands(CLI::App& app, FileCommandEnv& env) {
  AddSubmitCommand(app, env, v1::JOB_KIND_ZIP, "zip", "zip files or directories (a background job)",
                   "the archive (default: NAME.zip beside the first path)");
  AddSubmitCommand(app, env, v1::JOB_KIND_UNZIP, "unzip",
                   "extract a ZIP archive (a background job)",
                   "the directory to extract into (default: the archive's name without .zip)");
  AddSubmitCommand(app, env, v1::JOB_KIND_ENCRYPT, "encrypt",
                   "encrypt a file with a passphrase, age format (a background job)",
                   "the encrypted file (default: PATH.age)");
  AddSubmitCommand(app, env, v1::JOB_KIND_DECRYPT, "decrypt",
                   "decrypt an age file made with a passphrase (a background job)",
                   "the decrypted file (default: PATH without .age)");

  auto a = std::make_shared<JobArgs>();
  auto* jobs = app.add_subcommand("jobs", "your background jobs, newest first");
  jobs->add_option("--limit", a->limit, "how many")->capture_default_str();
  jobs->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      if (a->limit < 1) return Status::InvalidArgument("--limit must be at least 1");
      auto list = ListJobs(c, a->limit);
      if (!list.ok()) return list.status();
      if (list->empty()) {
        std::cout << "no jobs\n";
        return Status::Ok();
      }
      std::cout << fmt::format("{:<32}  {:<7}  {:<9}  {:>8}  {:>5}\n", "ID", "KIND", "STATE",
                               "PROGRESS", "AGE");
      for (const auto& j : *list) {
        std::cout << fmt::format("{:<32}  {:<7}  {:<9}  {:>8}  {:>5}\n", j.id(), KindWord(j.kind()),
                                 StateWord(j.state()), FormatProgress(j),
                                 FormatAge(j.created_unix_ms()));
      }
      return Status::Ok();
    });
  });

  auto* job = app.add_subcommand("job", "one job in full: `job ID [--wait]` or `job cancel ID`");
  job->add_option("args", a->paths, "ID, or: cancel ID")->required()->expected(1, 2);
  job->add_flag("--wait", a->wait, "follow the job to its end; its outcome is the exit status");
  job->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      const auto& args = a->paths;
      if (args.size() == 2) {
        if (args[0] != "cancel") {
          return Status::InvalidArgument(fmt::format(
              "unknown job action '{}': use `job ID` or `job cancel ID`", ForDisplay(args[0])));
        }
        auto cancelled = CancelJob(c, args[1]);
        if (!cancelled.ok()) return cancelled.status();
        if (!a->wait) {
          std::cout << fmt::format(
              "{}: {}\n", cancelled->id(),
              IsFinal(cancelled->state()) ? StateWord(cancelled->state()) : "cancelling");
          return Status::Ok();
        }
        auto end = WatchJob(c, args[1], [](const v1::Job&) {});
        if (!end.ok()) return end.status();
        std::cout << fmt::format("{}: {}\n", end->id(), StateWord(end->state()));
        return Status::Ok();
      }
      if (a->wait) return Follow(c, args[0]);
      auto got = GetJob(c, args[0]);
      if (!got.ok()) return got.status();
      PrintJob(*got);
      return Status::Ok();
    });
  });
}

}  // namespace ferry
