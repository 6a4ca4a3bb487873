#include "tests/e2e/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "core/sha256.h"
#include "core/unique_fd.h"
#include "transfer/file_io.h"

extern char** environ;

namespace ferry::e2e {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> MergedEnv(const Env& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Tests decide these themselves.
  for (const char* k : {"FERRY_SERVER", "FERRY_USER", "FERRY_PASSWORD", "FERRY_CA_CERT"})
    all.erase(k);
  for (const auto& [k, v] : extra) all[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

std::string TempName(const std::string& what) {
  static int counter = 0;
  return (fs::temp_directory_path() / ("ferry-e2e-" + std::to_string(::getpid()) + "-" + what +
                                       "-" + std::to_string(counter++)))
      .string();
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

void Age(const std::string& path) {
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  timespec times[2] = {st.st_atim, st.st_mtim};
  times[1].tv_sec -= 3600;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

void AlterBehindTheIndex(const std::string& path) {
  constexpr int64_t kMiB = 1 << 20;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  for (int64_t start = 0; start < st.st_size; start += kMiB) {
    int64_t middle = start + std::min(kMiB, st.st_size - start) / 2;
    ASSERT_EQ(::pwrite(fd, "tampered", 8, std::min(middle, st.st_size - 8)), 8);
  }
  ::close(fd);
  timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

void WriteRandomFile(const std::string& path, size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path, std::ios::binary);
  std::vector<uint64_t> buf(8192);
  while (size > 0) {
    for (auto& w : buf) w = rng();
    size_t n = std::min(size, buf.size() * sizeof(uint64_t));
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
    size -= n;
  }
}

size_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      size_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

std::map<std::string, std::string> TreeDigest(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    std::string rel = std::filesystem::relative(e.path(), root).string();
    out[rel] = e.is_regular_file() ? Sha256File(e.path().string()) : "dir";
  }
  return out;
}

std::string Sha256File(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "missing";
  auto h = Sha256OfFd(fd.get());
  return h.ok() ? *h : "error";
}

Child::Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      Wait(10s);
    }
    pid_ = std::exchange(o.pid_, -1);
    status_ = o.status_;
  }
  return *this;
}

Child::~Child() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    Wait(10s);
  }
}

Child Child::Spawn(const std::vector<std::string>& args, const Env& env,
                   const std::string& stdout_file, const std::string& stderr_file,
                   const std::string& stdin_file) {
  return SpawnProgram(FERRY_BINARY, args, env, stdout_file, stderr_file, stdin_file);
}

Child Child::SpawnProgram(const std::string& program, const std::vector<std::string>& args,
                          const Env& env, const std::string& stdout_file,
                          const std::string& stderr_file, const std::string& stdin_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  // A new session: no controlling terminal, so the client never prompts.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);

  std::vector<std::string> argv_s = {program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_s = MergedEnv(env);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  Child c;
  int rc = posix_spawn(&c.pid_, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ADD_FAILURE() << "cannot spawn " << program << ": " << std::strerror(rc);
    c.pid_ = -1;
  }
  return c;
}

void Child::Signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> Child::Wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

bool Child::Running() { return pid_ > 0 && !Wait(0ms).has_value(); }

RunResult RunFerry(const std::vector<std::string>& args, const Env& env, const std::string& input,
                   std::chrono::seconds timeout) {
  std::string base = TempName("run");
  std::string in = base + ".in", out = base + ".out", err = base + ".err";
  WriteFile(in, input);
  Child c = Child::Spawn(args, env, out, err, in);
  RunResult r;
  auto code = c.Wait(timeout);
  if (!code) {
    c.Signal(SIGKILL);
    c.Wait(10s);
    r.err = "(timed out) ";
  }
  r.exit_code = code.value_or(-1);
  r.out = ReadFile(out);
  r.err += ReadFile(err);
  fs::remove(in);
  fs::remove(out);
  fs::remove(err);
  return r;
}

std::shared_ptr<grpc::Channel> RawChannel(const std::string& address, const std::string& data_dir) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(data_dir + "/tls/server.crt");
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("ferry-server");
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

std::string RawLogin(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                     const std::string& password, grpc::Status* status) {
  auto stub = v1::Auth::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::LoginRequest req;
  req.set_user(user);
  req.set_password(password);
  v1::LoginResponse resp;
  *status = stub->Login(&ctx, req, &resp);
  return resp.token();
}

std::unique_ptr<grpc::ClientContext> RawContext(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + 30s);
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

void ServerProcess::Start(const std::string& data_dir, const std::vector<std::string>& extra,
                          const std::string& listen) {
  std::vector<std::string> args = {"server", "--listen", listen, "--data", data_dir};
  args.insert(args.end(), extra.begin(), extra.end());
  stderr_file_ = data_dir + ".server-stderr-" + std::to_string(std::rand());
  child_ = Child::Spawn(args, {}, "/dev/null", stderr_file_);
  static const std::regex kListening("listening on ([^ ]+):([0-9]+) ");
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = ReadFile(stderr_file_);
    if (std::regex_search(text, m, kListening)) {
      address_ = m[1].str() + ":" + m[2].str();
      return;
    }
    if (!child_.Running()) break;
    std::this_thread::sleep_for(20ms);
  }
  FAIL() << "server did not start; its log:\n" << ReadFile(stderr_file_);
}

void ServerProcess::Stop(int sig) {
  child_.Signal(sig);
  child_.Wait(60s);
}

void E2eTest::SetUp() {
  dir_ = TempName(::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(dir_);
  data_ = dir_ + "/data";
  config_ = dir_ + "/config";
  AddUser("alice", "alice-password");
  server_.Start(data_, server_flags_);
}

void E2eTest::TearDown() {
  server_.Stop(SIGKILL);
  if (!HasFailure()) fs::remove_all(dir_);
}

void E2eTest::AddUser(const std::string& name, const std::string& password) {
  auto r =
      RunFerry({"user", "add", name, "--data", data_, "--password-stdin"}, {}, password + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  passwords_[name] = password;
}

Env E2eTest::ClientEnv(const std::string& user) const {
  Env env = {
      {"FERRY_SERVER", server_.address()}, {"XDG_CONFIG_HOME", config_}, {"FERRY_USER", user}};
  if (auto it = passwords_.find(user); it != passwords_.end()) env["FERRY_PASSWORD"] = it->second;
  return env;
}

RunResult E2eTest::Ferry(const std::vector<std::string>& args, const std::string& user,
                         const std::string& input) {
  std::vector<std::string> full = args;
  full.push_back("--trust-new-server");
  RunResult r = RunFerry(full, ClientEnv(user), input);
  return r;
}

RunResult E2eTest::RunShell(const std::string& script, const std::string& user) {
  Env env = ClientEnv(user);
  env["FERRY"] = FERRY_BINARY;
  std::string out = Path("sh.out"), err = Path("sh.err");
  Child c = Child::SpawnProgram("/bin/sh", {"-c", script}, env, out, err);
  RunResult r;
  r.exit_code = c.Wait(std::chrono::seconds(120)).value_or(-1);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

std::vector<std::string> E2eTest::PartialsOf(const std::string& user) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(data_ + "/uploads/" + user, ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

}  // namespace ferry::e2e
