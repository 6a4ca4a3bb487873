// End-to-end tests of background jobs: a real `ferry server` (embedded queue,
// or a Redis queue with real `ferry worker` processes and a real redis-server
// on loopback), driven by the real CLI, checked with the real zip, unzip and age.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zip.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/e2e/harness.h"
#include "tests/support/pty.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kAge = "/usr/bin/age";
constexpr const char* kPassphrase = "correct horse battery staple";

// Names in `dir` that a job works under before its output appears.
std::vector<std::string> StagingLeftovers(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().filename().string().rfind(".ferry-job-", 0) == 0) found.push_back(e.path());
  }
  return found;
}

int Shell(const std::string& command) { return std::system(command.c_str()); }

// Runs age with `args` on a pseudo-terminal, typing `passphrase` at each of
// its `prompts` passphrase prompts. The exit code, or -1.
int RunAge(const std::vector<std::string>& args, const std::string& passphrase, int prompts) {
  std::vector<std::string> argv = {kAge};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<testing::Dialog> dialog(static_cast<size_t>(prompts), {"passphrase", passphrase});
  std::string transcript;
  return testing::RunOnPty(argv, dialog, &transcript);
}

// A sparse file: large, cheap to make, slow enough to process that a test can
// act while a job on it runs.
void MakeSparse(const std::string& path, off_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, size), 0);
  ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
  ::close(fd);
}

// Jobs are held to a rate, so long jobs take seconds on small files and a
// test can act while one runs without writing gigabytes.
constexpr const char* kJobRate = "50M";

class JobsE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    server_flags_.insert(server_flags_.end(), {"--job-rate-limit", kJobRate});
    E2eTest::SetUp();
  }
  RunResult Job(std::vector<std::string> args, const std::string& user = "alice",
                const Env& extra = {}) {
    args.push_back("--trust-new-server");
    Env env = ClientEnv(user);
    for (const auto& [k, v] : extra) env[k] = v;
    return RunFerry(args, env);
  }
  // The id a submit printed on its first line.
  static std::string IdOf(const RunResult& r) { return r.out.substr(0, r.out.find('\n')); }
  // `ferry job ID` as a field -> value map.
  std::map<std::string, std::string> Describe(const std::string& id,
                                              const std::string& user = "alice") {
    auto r = Job({"job", id}, user);
    std::map<std::string, std::string> fields;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      fields[line.substr(0, colon)] = value;
    }
    return fields;
  }
  // Waits until the job is running and has done some work.
  void WaitUntilRunning(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      auto f = Describe(id);
      if (f["state"] == "running" && f["progress"].rfind("0%", 0) != 0 &&
          f["progress"].rfind("-", 0) != 0)
        return;
      ASSERT_THAT(f["state"], Not(HasSubstr("done"))) << "the job ended before the test acted";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "job " << id << " never got going";
  }
  std::map<std::string, std::string> WaitUntilFinal(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    std::map<std::string, std::string> f;
    while (std::chrono::steady_clock::now() < deadline) {
      f = Describe(id);
      const auto& s = f["state"];
      if (s == "done" || s == "failed" || s == "cancelled") return f;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " did not end; last state " << f["state"];
    return f;
  }
  std::string Home(const std::string& name = "") { return HomePath("alice", name); }
  void MakeTree() {
    fs::create_directories(Home("docs/sub/deeper"));
    fs::create_directories(Home("docs/empty"));
    WriteRandomFile(Home("docs/random.bin"), 3 * 1024 * 1024 + 17, 1);
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + " of some text\n";
    WriteFile(Home("docs/sub/text.txt"), text);
    WriteFile(Home("docs/sub/deeper/empty.txt"), "");
    WriteFile(Home("docs/sub/deeper/ünïcode näme.txt"), "ü");
  }
};

TEST_F(JobsE2eTest, ZipIsReadByUnzipAndUnzipRestoresTheTree) {
  MakeTree();
  auto zipped = Job({"zip", "docs", "--wait"});
  ASSERT_OK(zipped);
  EXPECT_THAT(zipped.out, HasSubstr("docs.zip"));
  ASSERT_EQ(Shell("unzip -tq '" + Home("docs.zip") + "' > /dev/null"), 0);
  std::string outside = Path("unzipped");
  ASSERT_EQ(Shell("unzip -q '" + Home("docs.zip") + "' -d '" + outside + "'"), 0);
  EXPECT_EQ(TreeDigest(outside + "/docs"), TreeDigest(Home("docs")));

  ASSERT_OK(Job({"unzip", "docs.zip", "--to", "restored", "--wait"}));
  EXPECT_EQ(TreeDigest(Home("restored/docs")), TreeDigest(Home("docs")));
  // Without --force, extracting over existing files fails and changes nothing.
  WriteFile(Home("restored/docs/sub/text.txt"), "mine");
  auto again = Job({"unzip", "docs.zip", "--to", "restored", "--wait"});
  EXPECT_FAILS_WITH(again, "already exists");
  EXPECT_EQ(ReadFile(Home("restored/docs/sub/text.txt")), "mine");
  ASSERT_OK(Job({"unzip", "docs.zip", "--to", "restored", "--force", "--wait"}));
  EXPECT_EQ(TreeDigest(Home("restored/docs")), TreeDigest(Home("docs")));
  // The archive itself is not replaced without --force either.
  EXPECT_FAILS_WITH(Job({"zip", "docs", "--wait"}), "already exists");
  EXPECT_TRUE(StagingLeftovers(Home()).empty());
}

TEST_F(JobsE2eTest, ExtractsArchivesMadeByInfoZip) {
  MakeTree();
  ASSERT_EQ(Shell("cd '" + Home() + "' && zip -qr -6 byzip.zip docs"), 0);
  ASSERT_OK(Job({"unzip", "byzip.zip", "--wait"}));
  EXPECT_EQ(TreeDigest(Home("byzip/docs")), TreeDigest(Home("docs")));
}

TEST_F(JobsE2eTest, ZipSlipArchivesAreRefusedAndWriteNothing) {
  struct Evil {
    const char* name;
    std::string entry;
  };
  for (const Evil& evil : {Evil{"dotdot", "../escaped.txt"}, Evil{"nested", "a/../../escaped.txt"},
                           Evil{"absolute", "/tmp/escaped.txt"}}) {
    std::string archive = Home(std::string(evil.name) + ".zip");
    int err = 0;
    zip_t* z = zip_open(archive.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    ASSERT_NE(z, nullptr);
    static const char kData[] = "pwned";
    zip_source_t* src = zip_source_buffer(z, kData, sizeof kData - 1, 0);
    ASSERT_GE(zip_file_add(z, evil.entry.c_str(), src, ZIP_FL_ENC_UTF_8), 0);
    ASSERT_EQ(zip_close(z), 0);

    auto r = Job({"unzip", std::string(evil.name) + ".zip", "--wait"});
    EXPECT_NE(r.exit_code, 0) << evil.name;
    EXPECT_THAT(r.err, HasSubstr("escaped.txt")) << evil.name;
    EXPECT_FALSE(fs::exists(Home(evil.name))) << evil.name;
    EXPECT_FALSE(fs::exists(HomePath("alice", "../escaped.txt")));
    EXPECT_FALSE(fs::exists(Home("escaped.txt")));
  }
  EXPECT_FALSE(fs::exists("/tmp/escaped.txt"));
  EXPECT_TRUE(StagingLeftovers(Home()).empty());
}

TEST_F(JobsE2eTest, EncryptionIsReadByAgeBothWays) {
  ASSERT_EQ(::access(kAge, X_OK), 0) << "age is missing: install the Debian package age";
  WriteRandomFile(Home("secret.bin"), 2 * 1024 * 1024 + 5, 7);
  Env pass = {{"FERRY_PASSPHRASE", kPassphrase}};
  ASSERT_OK(Job({"encrypt", "secret.bin", "--wait"}, "alice", pass));
  ASSERT_EQ(RunAge({"-d", "-o", Path("by-age.bin"), Home("secret.bin.age")}, kPassphrase, 1), 0);
  EXPECT_EQ(Sha256File(Path("by-age.bin")), Sha256File(Home("secret.bin")));

  ASSERT_EQ(RunAge({"-p", "-o", Home("from-age.age"), Home("secret.bin")}, kPassphrase, 2), 0);
  // The passphrase from a file this time.
  WriteFile(Path("pass.txt"), std::string(kPassphrase) + "\n");
  ASSERT_OK(Job({"decrypt", "from-age.age", "--passphrase-file", Path("pass.txt"), "--wait"}));
  EXPECT_EQ(Sha256File(Home("from-age")), Sha256File(Home("secret.bin")));
}

TEST_F(JobsE2eTest, WrongPassphraseOrTamperedFileFailsAndLeavesNoOutput) {
  WriteRandomFile(Home("plain.bin"), 300 * 1024, 3);
  ASSERT_OK(Job({"encrypt", "plain.bin", "--wait"}, "alice", {{"FERRY_PASSPHRASE", "right one"}}));
  auto wrong = Job({"decrypt", "plain.bin.age", "--to", "out.bin", "--wait"}, "alice",
                   {{"FERRY_PASSPHRASE", "wrong one"}});
  EXPECT_FAILS_WITH(wrong, "wrong passphrase");
  EXPECT_FALSE(fs::exists(Home("out.bin")));

  std::string sealed = ReadFile(Home("plain.bin.age"));
  sealed[sealed.size() - 100] ^= 0x01;
  WriteFile(Home("tampered.age"), sealed);
  auto tampered = Job({"decrypt", "tampered.age", "--to", "out.bin", "--wait"}, "alice",
                      {{"FERRY_PASSPHRASE", "right one"}});
  EXPECT_NE(tampered.exit_code, 0);
  EXPECT_THAT(tampered.err, HasSubstr("DATA_LOSS"));
  EXPECT_FALSE(fs::exists(Home("out.bin")));
  EXPECT_TRUE(StagingLeftovers(Home()).empty());
  // Without any passphrase source and no terminal, the client says what to do.
  EXPECT_FAILS_WITH(Job({"decrypt", "plain.bin.age"}), "FERRY_PASSPHRASE");
}

TEST_F(JobsE2eTest, PassphraseNeverRestsInLogsAuditOrDatabase) {
  const std::string secret = "Unmistakable-Passphrase-42";
  WriteRandomFile(Home("p.bin"), 1000, 4);
  ASSERT_OK(Job({"encrypt", "p.bin", "--wait"}, "alice", {{"FERRY_PASSPHRASE", secret}}));
  // A queued job's sealed passphrase is in the database only until it ends.
  auto log = RunFerry({"log", "--data", data_, "--limit", "100"});
  ASSERT_OK(log);
  EXPECT_THAT(log.out, HasSubstr("job-encrypt"));
  EXPECT_THAT(log.out, Not(HasSubstr(secret)));
  EXPECT_THAT(server_.log(), Not(HasSubstr(secret)));
  for (const auto& e : fs::recursive_directory_iterator(data_)) {
    if (!e.is_regular_file() || e.path().string().find("/files/") != std::string::npos) continue;
    EXPECT_THAT(ReadFile(e.path()), Not(HasSubstr(secret))) << e.path();
  }
}

TEST_F(JobsE2eTest, CancelStopsARunningJobPromptlyAndLeavesNothing) {
  MakeSparse(Home("huge.bin"), 400LL << 20);
  auto submitted = Job({"encrypt", "huge.bin"}, "alice", {{"FERRY_PASSPHRASE", "x"}});
  ASSERT_OK(submitted);
  std::string id = IdOf(submitted);
  WaitUntilRunning(id);
  auto start = std::chrono::steady_clock::now();
  auto cancel = Job({"job", "cancel", id, "--wait"});
  ASSERT_OK(cancel);
  EXPECT_THAT(cancel.out, HasSubstr("cancelled"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  auto f = Describe(id);
  EXPECT_EQ(f["state"], "cancelled");
  EXPECT_FALSE(fs::exists(Home("huge.bin.age")));
  EXPECT_TRUE(StagingLeftovers(Home()).empty());
  // `job ID --wait` on a cancelled job reports it as a failure.
  EXPECT_FAILS_WITH(Job({"job", id, "--wait"}), "cancelled");
}

TEST_F(JobsE2eTest, UsersSeeAndControlOnlyTheirOwnJobs) {
  AddUser("bob", "bob-password");
  MakeTree();
  auto mine = Job({"zip", "docs", "--wait"});
  ASSERT_OK(mine);
  std::string id = IdOf(mine);
  EXPECT_FAILS_WITH(Job({"job", id}, "bob"), "NOT_FOUND");
  EXPECT_FAILS_WITH(Job({"job", "cancel", id}, "bob"), "NOT_FOUND");
  auto list = Job({"jobs"}, "bob");
  ASSERT_OK(list);
  EXPECT_THAT(list.out, Not(HasSubstr(id)));
  EXPECT_THAT(Job({"jobs"}).out, HasSubstr(id));
  // Bob's jobs work on bob's home: alice's docs are not there.
  EXPECT_FAILS_WITH(Job({"zip", "docs"}, "bob"), "NOT_FOUND");
  // Ids are checked before any lookup, and paths as strictly as for file calls.
  EXPECT_FAILS_WITH(Job({"job", "../../etc"}), "not a job id");
  EXPECT_FAILS_WITH(Job({"zip", "../bob"}), "INVALID_ARGUMENT");
}

// Restart recovery needs a server we can kill and start again on the same data.
class JobsRestartE2eTest : public JobsE2eTest {
 protected:
  void SetUp() override {
    server_flags_ = {"--workers", "1"};
    JobsE2eTest::SetUp();
  }
};

TEST_F(JobsRestartE2eTest, QueuedAndInterruptedJobsFinishAfterKill9) {
  MakeSparse(Home("big.bin"), 250LL << 20);
  WriteRandomFile(Home("small.bin"), 100 * 1024, 9);
  Env pass = {{"FERRY_PASSPHRASE", kPassphrase}};
  auto big = Job({"encrypt", "big.bin"}, "alice", pass);
  ASSERT_OK(big);
  auto small = Job({"encrypt", "small.bin"}, "alice", pass);  // waits: one worker
  ASSERT_OK(small);
  WaitUntilRunning(IdOf(big));
  EXPECT_EQ(Describe(IdOf(small))["state"], "queued");

  server_.Stop(SIGKILL);
  server_.Start(data_, server_flags_);
  auto b = WaitUntilFinal(IdOf(big));
  auto s = WaitUntilFinal(IdOf(small));
  EXPECT_EQ(b["state"], "done") << b["error"];
  EXPECT_EQ(b["attempts"], "2");
  EXPECT_EQ(s["state"], "done") << s["error"];
  EXPECT_THAT(server_.log(), HasSubstr("interrupted jobs are queued again"));
  EXPECT_TRUE(StagingLeftovers(Home()).empty());
  // Whole and correct: the small one decrypts to the original.
  ASSERT_OK(Job({"decrypt", "small.bin.age", "--to", "small.out", "--wait"}, "alice", pass));
  EXPECT_EQ(Sha256File(Home("small.out")), Sha256File(Home("small.bin")));
  // age's output size: header + per 64 KiB chunk a 16-byte tag.
  EXPECT_GT(fs::file_size(Home("big.bin.age")), (250ULL << 20) + (250ULL << 20) / 65536 * 16);
}

// A real redis-server on a free loopback port, for the life of the test.
class RedisServer {
 public:
  void Start(const std::string& dir) {
    port_ = FreePort();
    child_ = Child::SpawnProgram("/usr/bin/redis-server",
                                 {"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save",
                                  "", "--appendonly", "no", "--dir", dir},
                                 {}, dir + "/redis.out", dir + "/redis.err");
    for (int i = 0; i < 100; ++i) {
      if (Shell("redis-cli -p " + std::to_string(port_) + " ping > /dev/null 2>&1") == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "redis-server did not start";
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

 private:
  int port_ = 0;
  Child child_;
};

class RedisJobsE2eTest : public JobsE2eTest {
 protected:
  void SetUp() override {
    redis_dir_ = fs::temp_directory_path() / ("ferry-redis-" + std::to_string(::getpid()));
    fs::create_directories(redis_dir_);
    redis_.Start(redis_dir_);
    server_flags_ = {"--queue", redis_.url()};
    JobsE2eTest::SetUp();
  }
  void TearDown() override {
    workers_.clear();
    JobsE2eTest::TearDown();
    fs::remove_all(redis_dir_);
  }
  Child& StartWorker(const std::string& name) {
    workers_.push_back(
        std::make_unique<Child>(Child::Spawn({"worker", "--queue", redis_.url(), "--data", data_,
                                              "--workers", "1", "--visibility-timeout", "2"},
                                             {}, Path(name + ".out"), Path(name + ".err"))));
    return *workers_.back();
  }

  std::string redis_dir_;
  RedisServer redis_;
  std::vector<std::unique_ptr<Child>> workers_;
};

TEST_F(RedisJobsE2eTest, WorkersRunJobsAndAKilledWorkersJobIsFinishedByAnother) {
  Child& first = StartWorker("worker1");
  MakeTree();
  ASSERT_OK(Job({"zip", "docs", "--wait"}));
  ASSERT_EQ(Shell("unzip -tq '" + Home("docs.zip") + "' > /dev/null"), 0);

  MakeSparse(Home("big.bin"), 250LL << 20);
  Env pass = {{"FERRY_PASSPHRASE", kPassphrase}};
  auto big = Job({"encrypt", "big.bin"}, "alice", pass);
  ASSERT_OK(big);
  std::string id = IdOf(big);
  WaitUntilRunning(id);  // on the first worker: the only one so far
  StartWorker("worker2");
  first.Signal(SIGKILL);
  auto f = WaitUntilFinal(id);
  EXPECT_EQ(f["state"], "done") << f["error"];
  EXPECT_EQ(f["attempts"], "2");
  EXPECT_TRUE(StagingLeftovers(Home()).empty());
  // One output, whole: no duplicate, no partial file beside it.
  int outputs = 0;
  for (const auto& e : fs::directory_iterator(Home())) {
    if (e.path().filename().string().find("big.bin") != std::string::npos) ++outputs;
  }
  EXPECT_EQ(outputs, 2);  // big.bin and big.bin.age
  EXPECT_GT(fs::file_size(Home("big.bin.age")), (250ULL << 20) + (250ULL << 20) / 65536 * 16);
  EXPECT_THAT(ReadFile(Path("worker2.err")), HasSubstr("attempt 2"));
}

TEST_F(RedisJobsE2eTest, SmallJobsRoundTripThroughTwoWorkers) {
  StartWorker("worker1");
  StartWorker("worker2");
  WriteRandomFile(Home("f.bin"), 50 * 1024, 5);
  Env pass = {{"FERRY_PASSPHRASE", kPassphrase}};
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    auto r = Job({"encrypt", "f.bin", "--to", "f" + std::to_string(i) + ".age"}, "alice", pass);
    ASSERT_OK(r);
    ids.push_back(IdOf(r));
  }
  for (const auto& id : ids) EXPECT_EQ(WaitUntilFinal(id)["state"], "done");
  ASSERT_OK(Job({"decrypt", "f7.age", "--to", "f7.bin", "--wait"}, "alice", pass));
  EXPECT_EQ(Sha256File(Home("f7.bin")), Sha256File(Home("f.bin")));
}

// The per-user cap is the server's, so it holds for the Redis queue too.
TEST_F(RedisJobsE2eTest, EachUsersQueuedJobsAreCapped) {
  server_.Stop();
  server_flags_.insert(server_flags_.end(), {"--max-jobs-per-user", "2"});
  server_.Start(data_, server_flags_);
  AddUser("bob", "bob-password");
  WriteRandomFile(Home("f.bin"), 1024, 6);
  WriteRandomFile(HomePath("bob", "g.bin"), 1024, 7);
  Env pass = {{"FERRY_PASSPHRASE", kPassphrase}};
  // No worker runs: jobs stay queued.
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = Job({"encrypt", "f.bin", "--to", "f" + std::to_string(i) + ".age"}, "alice", pass);
    ASSERT_OK(r);
    ids.push_back(IdOf(r));
  }
  auto third = Job({"encrypt", "f.bin", "--to", "f2.age"}, "alice", pass);
  EXPECT_FAILS_WITH(third, "RESOURCE_EXHAUSTED: you have 2 jobs queued or running");
  EXPECT_OK(Job({"encrypt", "g.bin"}, "bob", pass));
  ASSERT_OK(Job({"job", "cancel", ids[0]}));
  EXPECT_OK(Job({"encrypt", "f.bin", "--to", "f2.age"}, "alice", pass));
}

TEST_F(JobsE2eTest, RedisDownRefusesJobsButFilesStillWork) {
  server_.Stop(SIGKILL);
  int port = RedisServer::FreePort();  // nothing listens there
  server_flags_ = {"--queue", "redis://127.0.0.1:" + std::to_string(port)};
  server_.Start(data_, server_flags_);
  MakeTree();
  auto r = Job({"zip", "docs"});
  EXPECT_FAILS_WITH(r, "cannot reach the job queue");
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
  auto ls = Job({"ls"});
  ASSERT_OK(ls);
  EXPECT_THAT(ls.out, HasSubstr("docs/"));
}

}  // namespace
}  // namespace ferry::e2e
