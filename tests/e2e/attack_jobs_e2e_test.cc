// Attacks on background jobs through the real server and CLI (issue 17, rows
// 3, 4, 10 and the unzip half of 14): each is refused quickly with a reason a
// person understands, costs the server little memory, writes nothing, and
// leaves every other user able to log in, list and transfer, with every
// existing file unchanged.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "jobs/zip_bomb_test_util.h"
#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// The peak resident memory of process `pid` (VmHWM), in bytes.
uint64_t PeakRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

class AttackJobsE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    // One worker and a small per-user cap make queueing visible; the rate
    // limit makes a "slow job" a matter of its size, whatever the machine.
    server_flags_ = {"--workers", "1", "--max-jobs-per-user", "4", "--job-rate-limit", "4M"};
    E2eTest::SetUp();
    AddUser("bob", "bob-password");
    // Files the attacks must leave alone: alice's and bob's.
    fs::create_directories(HomePath("alice", "keep"));
    WriteRandomFile(HomePath("alice", "keep/alice.bin"), 200 * 1024, 1);
    WriteRandomFile(HomePath("bob", "bob.bin"), 300 * 1024, 2);
    before_ = TreeDigest(data_ + "/files");
  }

  RunResult Job(std::vector<std::string> args, const std::string& user = "alice",
                const Env& extra = {}) {
    args.push_back("--trust-new-server");
    Env env = ClientEnv(user);
    for (const auto& [k, v] : extra) env[k] = v;
    return RunFerry(args, env, "", std::chrono::seconds(60));
  }
  static std::string IdOf(const RunResult& r) { return r.out.substr(0, r.out.find('\n')); }
  std::string StateOf(const std::string& id, const std::string& user) {
    auto r = Job({"job", id}, user);
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("state:", 0) == 0) {
        std::string v = line.substr(6);
        return v.substr(v.find_first_not_of(' '));
      }
    }
    return "?";
  }
  std::string WaitUntilFinal(const std::string& id, const std::string& user,
                             std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    std::string state;
    while (Clock::now() < deadline) {
      state = StateOf(id, user);
      if (state == "done" || state == "failed" || state == "cancelled") return state;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Job({"job", "cancel", id}, user);  // today's server would keep going
    ADD_FAILURE() << "job " << id << " still " << state << " after " << limit.count() << " s";
    return state;
  }

  // Another user still logs in, lists and transfers, and no file that existed
  // before the attack changed.
  void ExpectOthersUnharmed() {
    auto list = Job({"ls"}, "bob");
    EXPECT_OK(list);
    EXPECT_THAT(list.out, HasSubstr("bob.bin"));
    WriteRandomFile(Path("upload.bin"), 1 << 20, 3);
    EXPECT_OK(Job({"put", Path("upload.bin"), "upload.bin"}, "bob"));
    EXPECT_OK(Job({"get", "upload.bin", Path("download.bin")}, "bob"));
    EXPECT_EQ(Sha256File(Path("download.bin")), Sha256File(Path("upload.bin")));
    auto now = TreeDigest(data_ + "/files");
    for (const auto& [path, digest] : before_) {
      EXPECT_EQ(now[path], digest) << path << " changed";
    }
    for (const auto& [path, digest] : now) {
      EXPECT_EQ(path.find(".ferry-job-"), std::string::npos) << "staging left behind: " << path;
    }
  }

  std::map<std::string, std::string> before_;
};

// Row 3: 200 central directory entries all pointing at one deflated member of
// 100 MiB of zeros: ~100 KB declaring 20 GiB. Refused before anything is
// written; one such entry alone is refused for its expansion ratio.
TEST_F(AttackJobsE2eTest, Row3OverlappingZipBombIsRefusedBeforeWriting) {
  std::string bomb = jobs::testing::OverlappingZip(100 << 20, 200);
  EXPECT_LT(bomb.size(), 200u * 1024);
  WriteFile(HomePath("alice", "bomb.zip"), bomb);
  before_ = TreeDigest(data_ + "/files");

  // Not --wait: today's server would unpack for minutes; the wait is bounded.
  auto started = Clock::now();
  auto submitted = Job({"unzip", "bomb.zip"});
  ASSERT_OK(submitted);
  EXPECT_EQ(WaitUntilFinal(IdOf(submitted), "alice", std::chrono::seconds(20)), "failed");
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(20));
  auto r = Job({"job", IdOf(submitted), "--wait"});  // it has ended: reports at once
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(r.err, HasSubstr("entries 'bomb-0' and 'bomb-1' share bytes of the archive"));
  EXPECT_FALSE(fs::exists(HomePath("alice", "bomb")));

  WriteFile(HomePath("alice", "single.zip"), jobs::testing::OverlappingZip(100 << 20, 1));
  before_ = TreeDigest(data_ + "/files");
  auto single = Job({"unzip", "single.zip", "--wait"});
  EXPECT_NE(single.exit_code, 0);
  EXPECT_THAT(single.err, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(single.err, HasSubstr("more than 1000 times its size"));
  EXPECT_FALSE(fs::exists(HomePath("alice", "single")));
  ExpectOthersUnharmed();
}

// Row 4: an age header asking for scrypt work factor 2^22 (4 GiB, seconds of
// CPU before the passphrase is even checked), decrypted twice at once. Both
// are refused from the header alone: fast, and the server's memory stays low.
TEST_F(AttackJobsE2eTest, Row4HugeScryptWorkFactorIsRefusedBeforeScrypt) {
  std::string b43(43, 'A');
  std::string header = "age-encryption.org/v1\n-> scrypt " + std::string(22, 'A') + " 22\n" + b43 +
                       "\n--- " + b43 + "\n";
  WriteFile(HomePath("alice", "heavy.age"), header + std::string(16, '\0') + std::string(64, 'x'));
  before_ = TreeDigest(data_ + "/files");
  const uint64_t rss_before = PeakRss(server_.child().pid());

  auto started = Clock::now();
  Env pass = {{"FERRY_PASSPHRASE", "anything"}};
  RunResult results[2];
  std::thread second([&] {
    results[1] = Job({"decrypt", "heavy.age", "--to", "out2", "--wait"}, "alice", pass);
  });
  results[0] = Job({"decrypt", "heavy.age", "--to", "out1", "--wait"}, "alice", pass);
  second.join();
  for (const RunResult& r : results) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("RESOURCE_EXHAUSTED"));
    EXPECT_THAT(r.err, HasSubstr("scrypt work factor 2^22 (4096 MiB of memory), above this "
                                 "server's limit of 2^18"));
    EXPECT_THAT(r.err, HasSubstr("--max-scrypt-work-factor"));
  }
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(10));
  const uint64_t rss_after = PeakRss(server_.child().pid());
  if (!kSanitizerBuild) {
    EXPECT_LT(rss_after, rss_before + (256ull << 20))
        << "peak RSS grew from " << (rss_before >> 20) << " MiB to " << (rss_after >> 20) << " MiB";
  }
  EXPECT_FALSE(fs::exists(HomePath("alice", "out1")));
  EXPECT_FALSE(fs::exists(HomePath("alice", "out2")));
  ExpectOthersUnharmed();
}

// Row 10: one user's slow jobs fill the queue; another user's tiny job runs
// as soon as the worker is free, not after all of them, and the first user
// cannot queue without bound.
TEST_F(AttackJobsE2eTest, Row10OneUsersQueueDoesNotStarveAnother) {
  // 20 MB at 4 MB/s: each of alice's jobs takes five seconds or more, longer
  // than submitting all of them takes even in the sanitizer build.
  for (int i = 0; i < 4; ++i) {
    std::string path = HomePath("alice", "slow" + std::to_string(i) + ".bin");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 20 << 20), 0);
    ::close(fd);
  }
  WriteFile(HomePath("bob", "tiny.txt"), "tiny\n");
  before_ = TreeDigest(data_ + "/files");

  std::vector<std::string> alice;
  for (int i = 0; i < 4; ++i) {
    auto r = Job({"zip", "slow" + std::to_string(i) + ".bin"});
    ASSERT_OK(r);
    alice.push_back(IdOf(r));
  }
  auto fifth = Job({"zip", "keep"});
  EXPECT_NE(fifth.exit_code, 0);
  EXPECT_THAT(fifth.err, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(fifth.err,
              HasSubstr("you have 4 jobs queued or running, the most one user may have"));

  auto started = Clock::now();
  auto tiny = Job({"zip", "tiny.txt"}, "bob");
  ASSERT_OK(tiny);
  EXPECT_EQ(WaitUntilFinal(IdOf(tiny), "bob", std::chrono::seconds(30)), "done");
  auto waited = Clock::now() - started;
  RecordProperty(
      "tiny_job_wait_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()));
  // Behind at most the one job running when it came, not all four.
  EXPECT_NE(StateOf(alice[3], "alice"), "done");
  EXPECT_NE(StateOf(alice[2], "alice"), "done");
  EXPECT_LT(waited, std::chrono::seconds(12));
  for (const auto& id : alice) Job({"job", "cancel", id, "--wait"});
  ExpectOthersUnharmed();
}

// Row 14 (unzip): a symlink entry that resolves inside the archive
// ("a/link" -> "../b") but would name another user's file once moved to the
// top of the home. Links with ".." or absolute targets are refused.
TEST_F(AttackJobsE2eTest, Row14SymlinkThatCouldLeaveTheHomeIsRefused) {
  std::string archive = HomePath("alice", "links.zip");
  int err = 0;
  zip_t* z = zip_open(archive.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  static const char kData[] = "data";
  static const char kTarget[] = "../b";
  zip_source_t* data = zip_source_buffer(z, kData, sizeof kData - 1, 0);
  ASSERT_GE(zip_file_add(z, "b", data, 0), 0);
  zip_source_t* target = zip_source_buffer(z, kTarget, sizeof kTarget - 1, 0);
  zip_int64_t link = zip_file_add(z, "a/link", target, 0);
  ASSERT_GE(link, 0);
  ASSERT_EQ(zip_file_set_external_attributes(z, static_cast<zip_uint64_t>(link), 0, ZIP_OPSYS_UNIX,
                                             static_cast<zip_uint32_t>(S_IFLNK | 0777) << 16),
            0);
  ASSERT_EQ(zip_close(z), 0);
  before_ = TreeDigest(data_ + "/files");

  auto r = Job({"unzip", "links.zip", "--wait"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("symlink entry 'a/link' has '..' in its target ('../b')"));
  EXPECT_THAT(r.err, HasSubstr("could point outside your home"));
  EXPECT_FALSE(fs::exists(HomePath("alice", "links")));
  ExpectOthersUnharmed();
}

}  // namespace
}  // namespace ferry::e2e
