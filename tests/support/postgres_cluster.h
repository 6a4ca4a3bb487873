// Test support: a throwaway PostgreSQL cluster on a free loopback port.
//
// gtest_discover_tests runs every TEST in its own process, so a fresh initdb
// per test (~2 s) would dominate the suite. Instead initdb runs once per
// machine, PostgreSQL version and user into a template directory under the
// system temp dir (built under an flock so parallel ctest processes do not
// race, then renamed into place); each cluster copies the template and starts
// postgres from the copy (~0.3 s).
//
// initdb and postgres refuse to run as root, and CI runs as root: then every
// server program runs as the unprivileged `postgres` user (created by Debian's
// postgresql package) through runuser, and the directories are chowned to it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/status.h"

namespace ferry::testing {

namespace pg_internal {

// Bump when the template's settings change, so stale templates are not reused.
inline constexpr const char* kTemplateFormat = "v2";
// The superuser initdb creates and the database tests connect to.
inline constexpr const char* kUser = "ferry";
inline constexpr const char* kDatabase = "ferry";

inline std::string ReadTail(const std::filesystem::path& path, size_t max_bytes = 4000) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

// Runs argv (argv[0] a path), as the `postgres` user when `as_postgres`, with
// stdout and stderr appended to `log` and stdin from `input` (or /dev/null).
// Returns a non-OK Status naming the command and quoting its log on failure.
inline Status Run(std::vector<std::string> argv, bool as_postgres, const std::filesystem::path& log,
                  const std::string& input = "/dev/null") {
  if (as_postgres) {
    argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) {
    int in = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "waitpid");
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::Ok();
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return Status::Internal("'" + cmd + "' failed (wait status " + std::to_string(wstatus) +
                          "); its output:\n" + ReadTail(log));
}

// The newest /usr/lib/postgresql/<major>/bin that has the server programs.
inline Result<std::filesystem::path> FindBinDir() {
  std::vector<std::pair<int, std::filesystem::path>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    auto bin = entry.path() / "bin";
    if (std::filesystem::exists(bin / "initdb") && std::filesystem::exists(bin / "postgres") &&
        std::filesystem::exists(bin / "pg_ctl")) {
      found.emplace_back(std::atoi(entry.path().filename().c_str()), bin);
    }
  }
  if (found.empty()) {
    return Status::FailedPrecondition(
        "PostgreSQL is not installed: no initdb/postgres/pg_ctl under /usr/lib/postgresql/*/bin. "
        "Install the server with `apt-get install postgresql` (Debian 12 ships PostgreSQL 15); "
        "the PostgreSQL tests need it and do not skip.");
  }
  std::sort(found.begin(), found.end());
  return found.back().second;
}

inline Status ChownToPostgres(const std::filesystem::path& path) {
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    return Status::FailedPrecondition(
        "running as root but there is no `postgres` user to run the server as "
        "(Debian's postgresql package creates it)");
  }
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return ErrnoStatus(errno, "chown " + path.string());
  }
  return Status::Ok();
}

// An flock held for the object's lifetime; the lock file stays behind.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) {
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// Returns the template's data directory (<template>/data), running initdb
// first if no earlier process has.
inline Result<std::filesystem::path> EnsureTemplate(const std::filesystem::path& bin, bool root) {
  const std::string version = bin.parent_path().filename().string();
  const auto base = std::filesystem::temp_directory_path();
  const std::string name = std::string("ferry-pg-template-") + kTemplateFormat + "-" + version +
                           "-uid" + std::to_string(::geteuid());
  const auto dir = base / name;
  FileLock lock(base / (name + ".lock"));
  if (!lock.ok()) return ErrnoStatus(errno, "lock " + (base / (name + ".lock")).string());
  struct stat st {};
  if (::stat((dir / "data" / "PG_VERSION").c_str(), &st) == 0) {
    // The temp dir is shared: trust only a template this user (or, as root,
    // the postgres user on our behalf) made.
    const passwd* pw = root ? ::getpwnam("postgres") : nullptr;
    uid_t expected = root ? (pw ? pw->pw_uid : 0) : ::geteuid();
    if (st.st_uid != expected) {
      return Status::FailedPrecondition(dir.string() + " is owned by uid " +
                                        std::to_string(st.st_uid) + "; remove it");
    }
    return dir / "data";
  }
  const auto work = base / (name + ".tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  std::filesystem::create_directory(work, ec);
  if (ec) return Status::Internal("cannot create " + work.string() + ": " + ec.message());
  ::chmod(work.c_str(), 0700);
  if (root) FERRY_RETURN_IF_ERROR(ChownToPostgres(work));
  const auto log = base / (name + ".log");
  std::filesystem::remove(log, ec);
  // Trust authentication on the loopback only; the server never listens elsewhere.
  FERRY_RETURN_IF_ERROR(
      Run({(bin / "initdb").string(), "-D", (work / "data").string(), "-U", kUser, "--auth=trust",
           "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"},
          root, log));
  // Durability does not matter for a throwaway cluster; speed and a small
  // footprint (several clusters run in parallel under ctest -j) do.
  {
    std::ofstream conf(work / "data" / "postgresql.conf", std::ios::app);
    conf << "\n# ferry test cluster\nfsync = off\nsynchronous_commit = off\n"
            "full_page_writes = off\nshared_buffers = 32MB\nmax_connections = 60\n"
            "listen_addresses = '127.0.0.1'\nlogging_collector = off\n";
    if (!conf) return Status::Internal("cannot append to the template's postgresql.conf");
  }
  // Create the test database in single-user mode, saving a server start, and
  // drop `postgres`: every megabyte is copied for every test.
  const auto sql = base / (name + ".sql");
  {
    std::ofstream out(sql);
    out << "DROP DATABASE postgres\nCREATE DATABASE " << kDatabase << "\n";
  }
  ::chmod(sql.c_str(), 0644);
  FERRY_RETURN_IF_ERROR(Run({(bin / "postgres").string(), "--single", "-D",
                             (work / "data").string(), "-c", "fsync=off", "template1"},
                            root, log, sql.string()));
  std::filesystem::remove(sql, ec);
  // A half-made template from a crashed run would have no data/PG_VERSION.
  std::filesystem::remove_all(dir, ec);
  std::filesystem::rename(work, dir, ec);
  if (ec) {
    return Status::Internal("cannot rename the template into " + dir.string() + ": " +
                            ec.message());
  }
  return dir / "data";
}

// Where clusters live: a copy of the template is ~25 MB, which a tmpfs copies
// in tens of milliseconds and a slow disk in a second. /dev/shm when it has
// room (a container's default 64 MB does not), else the system temp dir.
inline std::filesystem::path ClusterParent() {
  struct statvfs vfs {};
  if (::statvfs("/dev/shm", &vfs) == 0 && ::access("/dev/shm", W_OK) == 0 &&
      static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize >= (uint64_t{1} << 30)) {
    return "/dev/shm";
  }
  return std::filesystem::temp_directory_path();
}

inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace pg_internal

// A running cluster, stopped (immediately) and deleted by the destructor.
class PostgresCluster {
 public:
  // Fails with a message saying what to install or what went wrong; tests
  // should ASSERT on it so a missing PostgreSQL fails rather than skips.
  static Result<std::unique_ptr<PostgresCluster>> Start() {
    using namespace pg_internal;
    auto bin = FindBinDir();
    if (!bin.ok()) return bin.status();
    const bool root = ::geteuid() == 0;
    auto templ = EnsureTemplate(*bin, root);
    if (!templ.ok()) return templ.status();

    std::string pattern = (ClusterParent() / "ferry-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return ErrnoStatus(errno, "mkdtemp " + pattern);
    std::unique_ptr<PostgresCluster> cluster(new PostgresCluster(*bin, pattern, root));
    if (root) FERRY_RETURN_IF_ERROR(ChownToPostgres(cluster->dir_));
    // cp -a keeps the postgres owner when run as root, and the 0700 mode.
    FERRY_RETURN_IF_ERROR(Run({"/bin/cp", "-a", templ->string(), cluster->data_dir().string()},
                              false, cluster->dir_ / "cp.log"));
    if (root) FERRY_RETURN_IF_ERROR(ChownToPostgres(cluster->data_dir()));

    // Another process may take the free port before postgres binds it; retry.
    Status started;
    for (int attempt = 0; attempt < 5; ++attempt) {
      cluster->port_ = FreeLoopbackPort();
      if (cluster->port_ < 0) return ErrnoStatus(errno, "find a free loopback port");
      started =
          Run({(*bin / "pg_ctl").string(), "-D", cluster->data_dir().string(), "-l",
               (cluster->dir_ / "server.log").string(), "-w", "-t", "60", "-o",
               "-p " + std::to_string(cluster->port_) + " -k " + cluster->dir_.string(), "start"},
              root, cluster->dir_ / "pg_ctl.log");
      if (started.ok()) {
        cluster->running_ = true;
        return cluster;
      }
    }
    return Status(started.code(),
                  started.message() + "\nserver log:\n" + ReadTail(cluster->dir_ / "server.log"));
  }

  ~PostgresCluster() {
    if (running_) {
      Status s = pg_internal::Run(
          {(bin_ / "pg_ctl").string(), "-D", data_dir().string(), "-m", "immediate", "-w", "stop"},
          root_, dir_ / "pg_ctl.log");
      (void)s;  // nothing to do about a failed stop in a destructor
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  int port() const { return port_; }
  // postgresql://ferry@127.0.0.1:PORT/ferry (trust authentication, no password).
  std::string url() const {
    return std::string("postgresql://") + pg_internal::kUser +
           "@127.0.0.1:" + std::to_string(port_) + "/" + pg_internal::kDatabase;
  }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  std::filesystem::path bin_dir() const { return bin_; }

 private:
  PostgresCluster(std::filesystem::path bin, std::filesystem::path dir, bool root)
      : bin_(std::move(bin)), dir_(std::move(dir)), root_(root) {}

  std::filesystem::path bin_;
  std::filesystem::path dir_;  // sockets, logs and data/
  bool root_;
  int port_ = -1;
  bool running_ = false;
};

}  // namespace ferry::testing
