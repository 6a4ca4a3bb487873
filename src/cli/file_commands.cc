#include "cli/file_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cli/fail.h"
#include "cli/prompt.h"
#include "client/file_client.h"
#include "client/progress.h"
#include "client/stream_transfer.h"
#include "client/tree_sync.h"
#include "client/tree_transfer.h"
#include "core/byte_size.h"
#include "core/display_text.h"
#include "core/home_glob.h"
#include "core/rel_path.h"
#include "transfer/file_io.h"

namespace ferry {
namespace {

struct Args {
  std::string limit_rate;
  bool long_format = false, sha256 = false, parents = false, recursive = false, force = false;
  bool checksum = false, delete_extra = false, dry_run = false;
  int64_t head_bytes = 1024;
  std::vector<std::string> paths;
  std::string from, to;
};

std::string FormatTime(int64_t mtime_ns) {
  time_t secs = static_cast<time_t>(mtime_ns / 1'000'000'000);
  tm t{};
  localtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &t);
  return buf;
}

char TypeChar(v1::FileType t) {
  switch (t) {
    case v1::FILE_TYPE_DIRECTORY:
      return 'd';
    case v1::FILE_TYPE_FILE:
      return '-';
    case v1::FILE_TYPE_SYMLINK:
      return 'l';
    default:
      return '?';
  }
}

const char* TypeWord(v1::FileType t) {
  switch (t) {
    case v1::FILE_TYPE_DIRECTORY:
      return "directory";
    case v1::FILE_TYPE_FILE:
      return "file";
    case v1::FILE_TYPE_SYMLINK:
      return "symlink";
    default:
      return "other";
  }
}

Result<TransferOptions> MakeTransferOptions(bool force, const std::string& limit_rate) {
  auto rate = ParseRate(limit_rate);
  if (!rate.ok()) return rate.status();
  TransferOptions o;
  o.overwrite = force;
  o.limit_bytes_per_second = *rate;
  o.notify = [](const std::string& message) {
    std::cerr << "ferry: " << ForDisplay(message) << std::endl;  // may hold remote names
  };
  if (StdoutIsTerminal()) {
    o.progress = [](const std::string& label, int64_t total) {
      return std::make_unique<Progress>(label, total, true);
    };
  }
  return o;
}

// "dir/name", or just "name" in the current directory.
std::string JoinLocal(const std::string& dir, const std::string& name) {
  return dir == "." ? name : dir + "/" + name;
}

// `-` as a local name: standard input (put) or output (get). A file named
// `-` is still reachable as `./-`.
constexpr const char* kStdStream = "-";
// The exit status when standard output's reader went away during `get -`:
// what a shell reports for a process that SIGPIPE ended (128 + 13).
constexpr int kReaderGoneExit = 141;

// A transfer through a pipe draws its bar on stderr, and only on a terminal:
// stdout carries the data (get -) or is free for the caller (put -).
void ProgressOnStderr(TransferOptions& o) {
  o.progress = nullptr;
  if (::isatty(STDERR_FILENO) != 1) return;
  o.progress = [](const std::string& label, int64_t total) {
    auto p = std::make_unique<Progress>(label, total, true);
    p->set_output(stderr);
    return p;
  };
}

// What is wrong with a `put` or `get` that uses `-`, checked before connecting.
Status CheckStdStreamUse(const Args& a, const FileCommandEnv& env, bool put) {
  if (put) {
    if (a.from != kStdStream) return Status::Ok();
    if (a.recursive) {
      return Status::InvalidArgument("put -r cannot read a tree from standard input");
    }
    if (env.in_shell) {
      return Status::InvalidArgument("put - reads standard input, which the shell itself reads");
    }
    if (a.to.empty()) {
      return Status::InvalidArgument(
          "put - needs a remote name: ferry put - REMOTE (a local file named '-' is ./-)");
    }
    return Status::Ok();
  }
  if (a.to == kStdStream && a.recursive) {
    return Status::InvalidArgument("get -r cannot write a tree to standard output");
  }
  return Status::Ok();
}

bool IsLocalDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void PrintEntry(const v1::FileEntry& e, const std::string& name, bool long_format) {
  bool dir = e.type() == v1::FILE_TYPE_DIRECTORY;
  if (long_format) {
    std::cout << fmt::format("{}{:04o} {:>14} {} {}{}\n", TypeChar(e.type()), e.mode(), e.size(),
                             FormatTime(e.mtime_ns()), ForDisplay(name), dir ? "/" : "");
  } else {
    std::cout << ForDisplay(name) << (dir ? "/" : "") << "\n";
  }
}

void PrintEntries(const std::vector<v1::FileEntry>& entries, bool long_format) {
  for (const auto& e : entries) PrintEntry(e, e.name(), long_format);
}

// One remote path an argument names: resolved for the server, shown as the
// user would write it, with its entry when a wildcard expansion already told.
struct RemoteArg {
  std::string path;
  std::string shown;
  std::optional<v1::FileEntry> entry;
};

// What `arg` names: the matches of its wildcards, expanded by the server, or
// the argument itself with its backslash escapes taken out.
Result<std::vector<RemoteArg>> Expand(Connection& c, const FileCommandEnv& env,
                                      const std::string& arg) {
  std::string remote = env.Remote(arg);
  if (!HasGlobMeta(remote)) return std::vector<RemoteArg>{{GlobUnescape(remote), arg, {}}};
  auto matches = GlobRemote(c, remote);
  if (!matches.ok()) return matches.status();
  std::vector<RemoteArg> out;
  // In the shell a match below the current directory is shown relative to it.
  std::string here = env.in_shell && !env.cwd.empty() ? env.cwd + "/" : "";
  for (auto& e : *matches) {
    std::string path = e.name();
    std::string shown = !here.empty() && path.rfind(here, 0) == 0 ? path.substr(here.size()) : path;
    out.push_back({std::move(path), std::move(shown), std::move(e)});
  }
  return out;
}

// Every argument expanded, in order.
Result<std::vector<RemoteArg>> ExpandAll(Connection& c, const FileCommandEnv& env,
                                         const std::vector<std::string>& args) {
  std::vector<RemoteArg> out;
  for (const auto& arg : args) {
    auto expanded = Expand(c, env, arg);
    if (!expanded.ok()) return expanded.status();
    for (auto& r : *expanded) out.push_back(std::move(r));
  }
  return out;
}

// `ls a b ...` as GNU ls lays it out: the arguments that are files first, as
// given, then each directory's listing under a "name:" header, the groups
// apart by a blank line.
Status ListSeveral(Connection& c, const std::vector<RemoteArg>& args, bool long_format) {
  std::vector<std::pair<std::string, v1::FileEntry>> files;
  std::vector<const RemoteArg*> dirs;
  for (const auto& arg : args) {
    v1::FileEntry entry;
    if (arg.entry) {
      entry = *arg.entry;
    } else {
      auto st = StatRemote(c, arg.path, false);
      if (!st.ok()) return st.status();
      entry = st->entry();
    }
    if (entry.type() == v1::FILE_TYPE_DIRECTORY) {
      dirs.push_back(&arg);
    } else {
      files.emplace_back(arg.shown, std::move(entry));
    }
  }
  for (const auto& [shown, e] : files) PrintEntry(e, shown, long_format);
  bool first = files.empty();
  for (const RemoteArg* arg : dirs) {
    auto entries = ListRemote(c, arg->path);
    if (!entries.ok()) return entries.status();
    std::cout << (first ? "" : "\n") << ForDisplay(arg->shown.empty() ? "." : arg->shown) << ":\n";
    first = false;
    PrintEntries(*entries, long_format);
  }
  return Status::Ok();
}

}  // namespace

void Run(FileCommandEnv& env, const std::function<Status(Connection&)>& body) {
  auto conn = env.connect();
  if (!conn.ok()) {
    env.exit_code = Fail(conn.status());
    return;
  }
  Status s = body(**conn);
  env.exit_code = s.ok() ? 0 : Fail(s);
}

std::string ShellPath(const std::string& cwd, const std::string& arg) {
  std::vector<std::string> parts;
  auto push = [&](const std::string& text) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('/', start);
      if (end == std::string::npos) end = text.size();
      std::string part = text.substr(start, end - start);
      start = end + 1;
      if (part.empty() || part == ".") continue;
      if (part == ".." && !parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else {
        parts.push_back(part);
      }
    }
  };
  if (arg.empty() || arg.front() != '/') push(cwd);
  push(arg);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::string FileCommandEnv::Remote(const std::string& arg) const {
  return in_shell ? ShellPath(cwd, arg) : arg;
}

void AddFileCommands(CLI::App& app, FileCommandEnv& env) {
  auto a = std::make_shared<Args>();

  auto* ls = app.add_subcommand("ls", "list a directory (name, type, size, mtime)");
  ls->add_flag("-l", a->long_format, "long format: type, size, modification time");
  ls->add_option("path", a->paths, "directories or files (default: your home)");
  ls->callback([&env, a] {
    if (a->paths.empty()) a->paths.push_back("");
    Run(env, [&](Connection& c) -> Status {
      if (a->paths.size() == 1 && !HasGlobMeta(env.Remote(a->paths[0]))) {
        auto entries = ListRemote(c, GlobUnescape(env.Remote(a->paths[0])));
        if (!entries.ok()) return entries.status();
        PrintEntries(*entries, a->long_format);
        return Status::Ok();
      }
      auto args = ExpandAll(c, env, a->paths);
      if (!args.ok()) return args.status();
      return ListSeveral(c, *args, a->long_format);
    });
  });

  auto* stat = app.add_subcommand("stat", "show a file's type, size and times");
  stat->add_flag("--sha256", a->sha256, "also compute the SHA-256 of the contents on the server");
  stat->add_option("path", a->paths, "what to describe")->required();
  stat->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      auto args = ExpandAll(c, env, a->paths);
      if (!args.ok()) return args.status();
      for (const auto& arg : *args) {
        auto st = StatRemote(c, arg.path, a->sha256);
        if (!st.ok()) return st.status();
        const auto& e = st->entry();
        std::cout << fmt::format("path:  {}\ntype:  {}\nsize:  {}\nmtime: {}\nmode:  {:04o}\n",
                                 ForDisplay(arg.shown), TypeWord(e.type()), e.size(),
                                 FormatTime(e.mtime_ns()), e.mode());
        if (!st->sha256().empty()) std::cout << "sha256: " << st->sha256() << "\n";
      }
      return Status::Ok();
    });
  });

  auto* mkdir = app.add_subcommand("mkdir", "make directories");
  mkdir->add_flag("-p,--parents", a->parents, "make parents as needed; no error if it exists");
  mkdir->add_option("path", a->paths)->required();
  mkdir->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      for (const auto& p : a->paths) {
        FERRY_RETURN_IF_ERROR(MakeRemoteDirectory(c, env.Remote(p), a->parents));
      }
      return Status::Ok();
    });
  });

  auto* touch = app.add_subcommand("touch", "create empty files (error if one exists)");
  touch->add_option("path", a->paths)->required();
  touch->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      for (const auto& p : a->paths) FERRY_RETURN_IF_ERROR(TouchRemote(c, env.Remote(p)));
      return Status::Ok();
    });
  });

  auto* rm = app.add_subcommand("rm", "remove files or directories");
  rm->add_flag("-r,--recursive", a->recursive, "remove directories and their contents");
  rm->add_option("path", a->paths)->required();
  rm->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      // Every argument is expanded first, so a pattern that fails removes nothing.
      auto args = ExpandAll(c, env, a->paths);
      if (!args.ok()) return args.status();
      for (const auto& arg : *args) {
        FERRY_RETURN_IF_ERROR(RemoveRemote(c, arg.path, a->recursive));
      }
      return Status::Ok();
    });
  });

  auto* mv = app.add_subcommand("mv", "rename or move (never overwrites without --force)");
  mv->add_flag("-f,--force", a->force, "replace an existing destination");
  mv->add_option("paths", a->paths,
                 "OLD... NEW: several sources (or wildcards) move into the directory NEW")
      ->required();
  mv->callback([&env, a] {
    if (a->paths.size() < 2) {
      env.exit_code = Fail(Status::InvalidArgument("mv needs what to move and where: OLD... NEW"));
      return;
    }
    a->to = a->paths.back();
    a->paths.pop_back();
    Run(env, [&](Connection& c) -> Status {
      auto sources = ExpandAll(c, env, a->paths);
      if (!sources.ok()) return sources.status();
      std::string to = GlobUnescape(env.Remote(a->to));
      auto st = StatRemote(c, to, false);
      bool into = st.ok() && st->entry().type() == v1::FILE_TYPE_DIRECTORY;
      if (sources->size() > 1 && !into) {
        return Status::InvalidArgument(
            fmt::format("moving {} names needs a directory to move them into; '{}' is not one",
                        sources->size(), a->to));
      }
      for (const auto& from : *sources) {
        // Moving onto an existing directory moves into it, as mv does.
        std::string target = into ? JoinRemote(to, BaseName(from.path)) : to;
        FERRY_RETURN_IF_ERROR(RenameRemote(c, from.path, target, a->force));
      }
      return Status::Ok();
    });
  });

  auto* put = app.add_subcommand("put", "upload a file (-r: a directory)");
  put->add_flag("-r,--recursive", a->recursive, "upload a directory tree");
  put->add_flag("-f,--force", a->force, "replace existing remote files");
  put->add_option("--limit-rate", a->limit_rate, "at most this many bytes/s (500K, 10M, 1G)");
  put->add_option("local", a->from, "a file, or - for standard input")->required();
  put->add_option("remote", a->to, "destination (default: same name in the current directory)");
  put->callback([&env, a] {
    if (Status s = CheckStdStreamUse(*a, env, /*put=*/true); !s.ok()) {
      env.exit_code = Fail(s);
      return;
    }
    Run(env, [&](Connection& c) -> Status {
      auto options = MakeTransferOptions(a->force, a->limit_rate);
      if (!options.ok()) return options.status();
      if (a->from == kStdStream) {
        ProgressOnStderr(*options);
        return UploadStream(c, STDIN_FILENO, env.Remote(a->to), *options);
      }
      if (IsLocalDirectory(a->from) && !a->recursive) {
        return Status::InvalidArgument(fmt::format("'{}' is a directory (use put -r)", a->from));
      }
      std::string name = BaseName(a->from);
      std::string remote = env.Remote(a->to.empty() ? name : a->to);
      if (!a->to.empty()) {
        // An existing directory receives the file under its own name. "put f
        // docs/" insists on that: docs must be a directory, never a new file.
        auto st = StatRemote(c, remote, false);
        bool is_dir = st.ok() && st->entry().type() == v1::FILE_TYPE_DIRECTORY;
        if (a->to.back() == '/') {
          if (!st.ok()) return st.status();
          if (!is_dir) {
            return Status::FailedPrecondition(fmt::format("'{}' is not a directory", a->to));
          }
        }
        if (is_dir) remote = JoinRemote(remote, name);
      }
      return a->recursive ? UploadTree(c, a->from, remote, *options)
                          : UploadFile(c, a->from, remote, *options);
    });
  });

  auto* get = app.add_subcommand("get", "download a file (-r: a directory)");
  get->add_flag("-r,--recursive", a->recursive, "download a directory tree");
  get->add_flag("-f,--force", a->force, "replace existing local files");
  get->add_option("--limit-rate", a->limit_rate, "at most this many bytes/s (500K, 10M, 1G)");
  get->add_option("remote", a->from)->required();
  get->add_option("local", a->to,
                  "destination (default: same name in the current directory; - for standard "
                  "output)");
  get->callback([&env, a] {
    if (Status s = CheckStdStreamUse(*a, env, /*put=*/false); !s.ok()) {
      env.exit_code = Fail(s);
      return;
    }
    bool reader_gone = false;
    Run(env, [&](Connection& c) -> Status {
      auto sources = Expand(c, env, a->from);
      if (!sources.ok()) return sources.status();
      if (a->to == kStdStream) {
        if (sources->size() > 1) {
          return Status::InvalidArgument(
              fmt::format("'{}' matches {} names; get - writes one file to standard output",
                          a->from, sources->size()));
        }
        auto options = MakeTransferOptions(a->force, a->limit_rate);
        if (!options.ok()) return options.status();
        ProgressOnStderr(*options);
        std::cout.flush();  // nothing of ours may follow the file's bytes
        Status s = DownloadStream(c, sources->front().path, STDOUT_FILENO, *options);
        // `get x - | head` is done once head is: end quietly, as cat does.
        reader_gone = IsReaderGone(s);
        return reader_gone ? Status::Ok() : s;
      }
      auto options = MakeTransferOptions(a->force, a->limit_rate);
      if (!options.ok()) return options.status();
      // Several matches land in a local directory under their own names.
      bool several = sources->size() > 1;
      std::string dir = a->to.empty() ? "." : a->to;
      if (several && !IsLocalDirectory(dir)) {
        return Status::InvalidArgument(
            fmt::format("'{}' matches {} names; give a local directory to put them in, not '{}'",
                        a->from, sources->size(), a->to));
      }
      // Checked for all before any is fetched, so a refusal leaves nothing behind.
      for (const auto& source : *sources) {
        if (several && !a->recursive && source.entry &&
            source.entry->type() == v1::FILE_TYPE_DIRECTORY) {
          return Status::FailedPrecondition(
              fmt::format("'{}' is a directory (use get -r)", source.shown));
        }
      }
      for (const auto& source : *sources) {
        std::string name = BaseName(source.path);
        if (name.empty()) name = "home";
        std::string local = several || a->to.empty() ? JoinLocal(dir, name) : a->to;
        if (!several && IsLocalDirectory(local) && !a->to.empty()) local = local + "/" + name;
        FERRY_RETURN_IF_ERROR(a->recursive ? DownloadTree(c, source.path, local, *options)
                                           : DownloadFile(c, source.path, local, *options));
      }
      return Status::Ok();
    });
    if (reader_gone) env.exit_code = kReaderGoneExit;
  });

  auto* sync = app.add_subcommand(
      "sync", "make a tree match another, sending only what differs (:PATH is remote)");
  sync->add_flag("-c,--checksum", a->checksum, "compare SHA-256 instead of size and mtime");
  sync->add_flag("--delete", a->delete_extra,
                 "delete what the destination has and the source lacks");
  sync->add_flag("-n,--dry-run", a->dry_run, "show what would be done; change nothing");
  sync->add_option("--limit-rate", a->limit_rate, "at most this many bytes/s (500K, 10M, 1G)");
  sync->add_option("source", a->from, "LOCAL or :REMOTE")->required();
  sync->add_option("destination", a->to, ":REMOTE or LOCAL")->required();
  sync->callback([&env, a] {
    bool up = a->to.rfind(':', 0) == 0, down = a->from.rfind(':', 0) == 0;
    if (up == down) {
      env.exit_code = Fail(Status::InvalidArgument(
          "sync needs one local and one remote side, the remote one written :PATH "
          "(ferry sync photos :photos, or ferry sync :photos photos)"));
      return;
    }
    Run(env, [&](Connection& c) -> Status {
      auto transfer = MakeTransferOptions(true, a->limit_rate);
      if (!transfer.ok()) return transfer.status();
      SyncOptions options;
      options.checksum = a->checksum;
      options.delete_extra = a->delete_extra;
      options.dry_run = a->dry_run;
      options.transfer = *transfer;
      options.report = [](const std::string& line) { std::cout << line << std::endl; };
      auto summary = up ? SyncUp(c, a->from, env.Remote(a->to.substr(1)), options)
                        : SyncDown(c, env.Remote(a->from.substr(1)), a->to, options);
      if (!summary.ok()) return summary.status();
      std::cout << fmt::format("{}{} sent ({}), {} deleted, {} directories made, {} unchanged\n",
                               options.dry_run ? "dry run, nothing changed: " : "",
                               summary->files_sent, FormatByteSize(summary->bytes_sent),
                               summary->deleted, summary->directories_made, summary->unchanged);
      return Status::Ok();
    });
  });

  auto* head = app.add_subcommand("head", "show the first bytes of a file");
  head->add_option("-c,--bytes", a->head_bytes, "how many bytes (default 1024, at most 1 MiB)");
  head->add_option("path", a->from)->required();
  head->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      auto h = HeadRemote(c, env.Remote(a->from), a->head_bytes);
      if (!h.ok()) return h.status();
      std::cout.write(h->data().data(), static_cast<std::streamsize>(h->data().size()));
      std::cout.flush();
      return Status::Ok();
    });
  });
}

}  // namespace ferry
