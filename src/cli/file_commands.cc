#include "cli/file_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cli/fail.h"
#include "cli/prompt.h"
#include "client/file_client.h"
#include "client/progress.h"
#include "client/stream_transfer.h"
#include "core/byte_size.h"
#include "core/display_text.h"
#include "core/rel_path.h"
#include "transfer/file_io.h"

namespace ferry {
namespace {

struct Args {
  std::string limit_rate;
  bool long_format = false, sha256 = false, parents = false, recursive = false, force = false;
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

// `ls a b ...` as GNU ls lays it out: the arguments that are files first, as
// given, then each directory's listing under a "name:" header, the groups
// apart by a blank line.
Status ListSeveral(Connection& c, const FileCommandEnv& env, const std::vector<std::string>& paths,
                   bool long_format) {
  std::vector<std::pair<std::string, v1::FileEntry>> files;
  std::vector<std::string> dirs;
  for (const auto& p : paths) {
    auto st = StatRemote(c, env.Remote(p), false);
    if (!st.ok()) return st.status();
    if (st->entry().type() == v1::FILE_TYPE_DIRECTORY) {
      dirs.push_back(p);
    } else {
      files.emplace_back(p, st->entry());
    }
  }
  for (const auto& [p, e] : files) PrintEntry(e, p, long_format);
  bool first = files.empty();
  for (const auto& p : dirs) {
    auto entries = ListRemote(c, env.Remote(p));
    if (!entries.ok()) return entries.status();
    std::cout << (first ? "" : "\n") << ForDisplay(p.empty() ? "." : p) << ":\n";
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
      if (a->paths.size() == 1) {
        auto entries = ListRemote(c, env.Remote(a->paths[0]));
        if (!entries.ok()) return entries.status();
        PrintEntries(*entries, a->long_format);
        return Status::Ok();
      }
      return ListSeveral(c, env, a->paths, a->long_format);
    });
  });

  auto* stat = app.add_subcommand("stat", "show a file's type, size and times");
  stat->add_flag("--sha256", a->sha256, "also compute the SHA-256 of the contents on the server");
  stat->add_option("path", a->paths, "what to describe")->required();
  stat->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      for (const auto& p : a->paths) {
        auto st = StatRemote(c, env.Remote(p), a->sha256);
        if (!st.ok()) return st.status();
        const auto& e = st->entry();
        std::cout << fmt::format("path:  {}\ntype:  {}\nsize:  {}\nmtime: {}\nmode:  {:04o}\n",
                                 ForDisplay(p), TypeWord(e.type()), e.size(),
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
      for (const auto& p : a->paths) {
        FERRY_RETURN_IF_ERROR(RemoveRemote(c, env.Remote(p), a->recursive));
      }
      return Status::Ok();
    });
  });

  auto* mv = app.add_subcommand("mv", "rename or move (never overwrites without --force)");
  mv->add_flag("-f,--force", a->force, "replace an existing destination");
  mv->add_option("old", a->from)->required();
  mv->add_option("new", a->to)->required();
  mv->callback([&env, a] {
    Run(env, [&](Connection& c) -> Status {
      std::string to = env.Remote(a->to);
      // Moving onto an existing directory moves into it, as mv does.
      if (auto st = StatRemote(c, to, false);
          st.ok() && st->entry().type() == v1::FILE_TYPE_DIRECTORY) {
        to = JoinRemote(to, BaseName(a->from));
      }
      return RenameRemote(c, env.Remote(a->from), to, a->force);
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
      std::string remote = env.Remote(a->from);
      if (a->to == kStdStream) {
        auto options = MakeTransferOptions(a->force, a->limit_rate);
        if (!options.ok()) return options.status();
        ProgressOnStderr(*options);
        std::cout.flush();  // nothing of ours may follow the file's bytes
        Status s = DownloadStream(c, remote, STDOUT_FILENO, *options);
        // `get x - | head` is done once head is: end quietly, as cat does.
        reader_gone = IsReaderGone(s);
        return reader_gone ? Status::Ok() : s;
      }
      std::string name = BaseName(remote);
      if (name.empty()) name = "home";
      std::string local = a->to.empty() ? name : a->to;
      if (IsLocalDirectory(local) && !a->to.empty()) local = local + "/" + name;
      auto options = MakeTransferOptions(a->force, a->limit_rate);
      if (!options.ok()) return options.status();
      if (!a->recursive) return DownloadFile(c, remote, local, *options);
      return DownloadTree(c, remote, local, *options);
    });
    if (reader_gone) env.exit_code = kReaderGoneExit;
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
