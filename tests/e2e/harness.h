// End-to-end test support: runs the real `ferry` binary as child processes
// (servers and clients) on loopback, in a private temporary directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "ferry/v1/files.grpc.pb.h"

namespace ferry::e2e {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

using Env = std::map<std::string, std::string>;

// Runs ferry to completion (killed after `timeout`), feeding `input` on stdin.
RunResult RunFerry(const std::vector<std::string>& args, const Env& env = {},
                   const std::string& input = "",
                   std::chrono::seconds timeout = std::chrono::seconds(120));

// A child process running in the background, killed (SIGKILL) if still alive
// when destroyed.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  ~Child();

  static Child Spawn(const std::vector<std::string>& args, const Env& env,
                     const std::string& stdout_file, const std::string& stderr_file,
                     const std::string& stdin_file = "/dev/null");
  // The same for another program (a path), such as redis-server.
  static Child SpawnProgram(const std::string& program, const std::vector<std::string>& args,
                            const Env& env, const std::string& stdout_file,
                            const std::string& stderr_file,
                            const std::string& stdin_file = "/dev/null");
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; the exit code, or 128+signal; nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);
// A file of `size` pseudo-random bytes from `seed`.
void WriteRandomFile(const std::string& path, size_t size, unsigned seed);
std::string Sha256File(const std::string& path);
// Makes `path`'s mtime an hour old, so that a (re)started peer trusts its
// index entry without checking the file again.
void Age(const std::string& path);
// Overwrites a few bytes in the middle of every 1 MiB chunk of `path` and
// puts its mtime back: same size, mtime and inode, other content (a peer's
// copy altered behind its index).
void AlterBehindTheIndex(const std::string& path);
// The resident set of process `pid` in bytes (VmRSS); 0 if it cannot be read.
size_t ResidentBytes(pid_t pid);
// Everything under `root`: relative path -> SHA-256, or "dir" for a directory.
std::map<std::string, std::string> TreeDigest(const std::string& root);

// A gRPC channel straight to a test server, trusting the certificate in its
// data directory: for checks below what the CLI lets a user send.
std::shared_ptr<grpc::Channel> RawChannel(const std::string& address, const std::string& data_dir);
// Logs in over `channel`; the token, or "" with *status set.
std::string RawLogin(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                     const std::string& password, grpc::Status* status);
// A context with a 30 s deadline carrying `token`.
std::unique_ptr<grpc::ClientContext> RawContext(const std::string& token);

// A running `ferry server` on 127.0.0.1 with its own data directory.
class ServerProcess {
 public:
  // Starts the server with `extra` flags and waits until it listens.
  void Start(const std::string& data_dir, const std::vector<std::string>& extra = {},
             const std::string& listen = "127.0.0.1:0");
  void Stop(int sig = SIGTERM);
  std::string address() const { return address_; }
  std::string log() const { return ReadFile(stderr_file_); }
  Child& child() { return child_; }

 private:
  Child child_;
  std::string address_;
  std::string stderr_file_;
};

// A fixture with a fresh directory, a server and a user "alice".
class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Adds an account with ferry user add.
  void AddUser(const std::string& name, const std::string& password);
  // Runs a client command as `user` against the server.
  RunResult Ferry(const std::vector<std::string>& args, const std::string& user = "alice",
                  const std::string& input = "");
  // The environment a client run as `user` gets.
  Env ClientEnv(const std::string& user) const;
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::string HomePath(const std::string& user, const std::string& name) const {
    return data_ + "/files/" + user + "/" + name;
  }
  // The names of `user`'s partial uploads in the server's data dir.
  std::vector<std::string> PartialsOf(const std::string& user) const;
  // Runs `script` with /bin/sh as `user`, $FERRY being the ferry binary (the
  // script adds --trust-new-server where a first call needs it).
  RunResult RunShell(const std::string& script, const std::string& user = "alice");

  std::string dir_;   // everything of this test lives here
  std::string data_;  // the server's data dir
  std::string config_;
  ServerProcess server_;
  std::map<std::string, std::string> passwords_;
  std::vector<std::string> server_flags_;  // set before SetUp() runs to change them
};

// True in the sanitizer build. Its allocator keeps freed memory in
// quarantine and adds shadow memory, so the attack tests check a process's
// memory footprint only in the normal build, and run their pure load tests
// there too; the sanitizer build still runs every other attack and checks
// every other outcome.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// How many times longer a CPU-bound step may take in the sanitizer build,
// with the suite running two tests at once, than in the normal build. The
// deadlines of the attack tests are multiplied by it: they tell a refusal
// made before any work from the work itself, which is slower still there.
inline constexpr int kSlowdown = kSanitizerBuild ? 8 : 1;

// Expectation helpers that print the command's output on failure.
#define EXPECT_OK(r) EXPECT_EQ((r).exit_code, 0) << "stdout: " << (r).out << "\nstderr: " << (r).err
#define ASSERT_OK(r) ASSERT_EQ((r).exit_code, 0) << "stdout: " << (r).out << "\nstderr: " << (r).err
#define EXPECT_FAILS_WITH(r, text)                                             \
  do {                                                                         \
    EXPECT_NE((r).exit_code, 0) << "stdout: " << (r).out;                      \
    EXPECT_NE((r).err.find(text), std::string::npos) << "stderr: " << (r).err; \
  } while (0)

}  // namespace ferry::e2e
