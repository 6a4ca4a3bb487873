// One user against the rest: attacks on shared budgets (sessions, disk space,
// quotas), on what a person reads (invisible and bidirectional characters)
// and on where a moved symlink points. Each test runs the attack, checks that
// it is refused with an honest message, and then that another user still logs
// in, lists and transfers, with every file they had unchanged.
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// U+200B ZERO WIDTH SPACE, U+FEFF BYTE ORDER MARK, U+202E RIGHT-TO-LEFT OVERRIDE.
constexpr const char* kZwsp = "\xe2\x80\x8b";
constexpr const char* kBom = "\xef\xbb\xbf";
constexpr const char* kRlo = "\xe2\x80\xae";

class AttackBudgetsTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    if (HasFatalFailure()) return;
    AddBob();
  }

  void TearDown() override {
    server_.Stop(SIGKILL);
    if (!mount_.empty()) ::umount2(mount_.c_str(), MNT_DETACH);
    E2eTest::TearDown();
  }

  // bob, the user who must not suffer, with files whose hashes are kept.
  void AddBob() {
    AddUser("bob", "bob-password");
    fs::create_directories(HomePath("bob", "docs"));
    WriteFile(HomePath("bob", "private.txt"), "bob's secret");
    WriteRandomFile(HomePath("bob", "docs/photo.bin"), 300'000, 7);
    bob_before_ = BobHashes();
  }

  std::map<std::string, std::string> BobHashes() {
    std::map<std::string, std::string> out;
    for (auto& e : fs::recursive_directory_iterator(HomePath("bob", ""))) {
      if (e.is_regular_file()) out[e.path().string()] = Sha256File(e.path().string());
    }
    return out;
  }

  // bob logs in, lists, uploads and downloads, and his files are as they were.
  void ExpectBobUnharmed() {
    auto ls = Ferry({"ls", "docs"}, "bob");
    EXPECT_OK(ls);
    EXPECT_NE(ls.out.find("photo.bin"), std::string::npos);
    WriteRandomFile(Path("bob-up.bin"), 1 << 20, 11);
    EXPECT_OK(Ferry({"put", Path("bob-up.bin"), "up.bin"}, "bob"));
    EXPECT_OK(Ferry({"get", "up.bin", Path("bob-down.bin")}, "bob"));
    EXPECT_EQ(Sha256File(Path("bob-down.bin")), Sha256File(Path("bob-up.bin")));
    auto now = BobHashes();
    now.erase(HomePath("bob", "up.bin"));
    EXPECT_EQ(now, bob_before_);
  }

  // Restarts the server on a fresh data directory in a tmpfs of `size`, with
  // alice and bob as before; false (and the test skipped) where mounting is
  // not permitted.
  bool RestartOnSmallDisk(const std::string& size, const std::vector<std::string>& flags) {
    server_.Stop(SIGKILL);
    std::string mount = dir_ + "/small";
    fs::create_directories(mount);
    if (::mount("tmpfs", mount.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) {
      return false;
    }
    mount_ = mount;
    data_ = mount + "/data";
    AddUser("alice", "alice-password");
    AddBob();
    server_.Start(data_, flags);
    return true;
  }

  std::string mount_;
  std::map<std::string, std::string> bob_before_;
};

// Row 9: one user keeps many sessions alive; the server has room for others.
class SessionFloodTest : public AttackBudgetsTest {
 protected:
  void SetUp() override {
    server_flags_ = {"--max-clients", "16"};
    AttackBudgetsTest::SetUp();
  }
};

TEST_F(SessionFloodTest, OneUserCannotFillTheServer) {
  auto start = std::chrono::steady_clock::now();
  auto channel = RawChannel(server_.address(), data_);
  int opened = 0;
  grpc::Status refused;
  for (int i = 0; i < 16; ++i) {
    grpc::Status s;
    std::string token = RawLogin(channel, "alice", "alice-password", &s);
    if (s.ok()) {
      opened++;
    } else {
      refused = s;
    }
  }
  EXPECT_EQ(opened, 8) << "the default --max-sessions-per-user";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("you have 8 sessions open"), std::string::npos)
      << refused.error_message();
  // The server still has room: bob logs in and works while alice's sessions live.
  ExpectBobUnharmed();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
}

// Row 12: the data file system fills up while an upload runs (another upload,
// another program); the uploader is told why and the partial does not stay.
TEST_F(AttackBudgetsTest, FullDiskGivesAnHonestErrorAndKeepsNoPartial) {
  if (!RestartOnSmallDisk("32m", {"--reserve-space", "0", "--audit-reserve-mb", "0"})) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  WriteRandomFile(Path("huge.bin"), 24 << 20, 3);
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK(Ferry({"ls"}));  // pins the server's certificate
  Child put = Child::Spawn(
      {"put", "--limit-rate", "4M", Path("huge.bin"), "huge.bin", "--trust-new-server"},
      ClientEnv("alice"), Path("put.out"), Path("put.err"));
  // Once the upload is under way, fill what is left of the disk.
  while (PartialsOf("alice").empty() && std::chrono::steady_clock::now() - start < 20s) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(PartialsOf("alice").empty()) << ReadFile(Path("put.err"));
  {
    std::ofstream filler(mount_ + "/filler", std::ios::binary);
    std::string block(1 << 16, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  auto code = put.Wait(30s);
  std::string err = ReadFile(Path("put.err"));
  ASSERT_TRUE(code.has_value()) << "the upload did not end";
  EXPECT_NE(*code, 0);
  EXPECT_NE(err.find("RESOURCE_EXHAUSTED: no space left on the server"), std::string::npos) << err;
  EXPECT_EQ(err.find("CANCELLED"), std::string::npos) << err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_TRUE(PartialsOf("alice").empty()) << "a partial that met a full disk is removed";
  EXPECT_FALSE(fs::exists(HomePath("alice", "huge.bin")));
  // Writes of any kind say the same while the disk is full.
  fs::create_directories(HomePath("alice", "docs"));
  auto mkdir = Ferry({"mkdir", "docs/more"});
  if (mkdir.exit_code != 0) EXPECT_FAILS_WITH(mkdir, "no space left on the server");
  fs::remove(mount_ + "/filler");
  ExpectBobUnharmed();
}

TEST_F(AttackBudgetsTest, UploadThatWouldEatTheReserveIsRefusedAtTheStart) {
  if (!RestartOnSmallDisk("32m", {})) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  // 31 MiB would leave less than the default reserve (5% of 32 MiB) free.
  WriteRandomFile(Path("big.bin"), 31 << 20, 4);
  auto start = std::chrono::steady_clock::now();
  auto r = Ferry({"put", Path("big.bin"), "big.bin"});
  EXPECT_FAILS_WITH(r, "RESOURCE_EXHAUSTED: not enough space left on the server");
  EXPECT_NE(r.err.find("kept free"), std::string::npos) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  for (const auto& name : PartialsOf("alice")) {
    EXPECT_EQ(fs::file_size(data_ + "/uploads/alice/" + name), 0u) << "no bytes were taken";
  }
  ExpectBobUnharmed();
}

// A storage quota: one user cannot take more than their share.
TEST_F(AttackBudgetsTest, QuotaRefusesUploadsTouchAndMkdirPastIt) {
  auto set = RunFerry({"user", "quota", "alice", "1M", "--data", data_});
  ASSERT_OK(set);
  WriteRandomFile(Path("600k.bin"), 600'000, 5);
  ASSERT_OK(Ferry({"put", Path("600k.bin"), "a.bin"}));
  auto second = Ferry({"put", Path("600k.bin"), "b.bin"});
  EXPECT_FAILS_WITH(second, "RESOURCE_EXHAUSTED: this would exceed your quota of 1.0 MiB");
  EXPECT_FALSE(fs::exists(HomePath("alice", "b.bin")));
  // Replacing a file counts only the difference.
  EXPECT_OK(Ferry({"put", "-f", Path("600k.bin"), "a.bin"}));
  WriteRandomFile(Path("rest.bin"), (1 << 20) - 600'000, 6);
  ASSERT_OK(Ferry({"put", Path("rest.bin"), "rest.bin"}));
  EXPECT_FAILS_WITH(Ferry({"touch", "more.txt"}), "quota");
  EXPECT_FAILS_WITH(Ferry({"mkdir", "more"}), "quota");
  // Removing files gives the room back; lifting the quota lifts the limit.
  ASSERT_OK(Ferry({"rm", "a.bin"}));
  EXPECT_OK(Ferry({"put", Path("600k.bin"), "b.bin"}));
  ASSERT_OK(RunFerry({"user", "quota", "alice", "none", "--data", data_}));
  EXPECT_OK(Ferry({"put", Path("600k.bin"), "c.bin"}));
  EXPECT_EQ(Sha256File(HomePath("alice", "c.bin")), Sha256File(Path("600k.bin")));
  // A quota given when the account is made.
  ASSERT_OK(
      RunFerry({"user", "add", "carol", "--quota", "500K", "--data", data_, "--password-stdin"}, {},
               "carol-password\n"));
  passwords_["carol"] = "carol-password";
  auto list = RunFerry({"user", "list", "--data", data_});
  EXPECT_NE(list.out.find("carol  (quota 500.0 KiB)"), std::string::npos) << list.out;
  EXPECT_FAILS_WITH(Ferry({"put", Path("600k.bin"), "a.bin"}, "carol"), "quota of 500.0 KiB");
  ExpectBobUnharmed();
}

TEST_F(AttackBudgetsTest, ConcurrentUploadsCannotTogetherPassTheQuota) {
  ASSERT_OK(RunFerry({"user", "quota", "alice", "10M", "--data", data_}));
  ASSERT_OK(Ferry({"ls"}));  // pins the server's certificate
  // Paced so that the three run at once (the first 1 MiB chunk goes at once).
  std::vector<Child> puts;
  for (int i = 0; i < 3; ++i) {
    WriteRandomFile(Path("part" + std::to_string(i)), 6'000'000, 20 + i);
    puts.push_back(Child::Spawn({"put", "--limit-rate", "2M", Path("part" + std::to_string(i)),
                                 "p" + std::to_string(i), "--trust-new-server"},
                                ClientEnv("alice"), Path("p" + std::to_string(i) + ".out"),
                                Path("p" + std::to_string(i) + ".err")));
  }
  int stored = 0;
  for (int i = 0; i < 3; ++i) {
    auto code = puts[i].Wait(30s);
    ASSERT_TRUE(code.has_value());
    std::string err = ReadFile(Path("p" + std::to_string(i) + ".err"));
    if (*code == 0) {
      stored++;
      EXPECT_EQ(Sha256File(HomePath("alice", "p" + std::to_string(i))),
                Sha256File(Path("part" + std::to_string(i))));
    } else {
      EXPECT_NE(err.find("RESOURCE_EXHAUSTED: this would exceed your quota"), std::string::npos)
          << err;
    }
  }
  EXPECT_LE(stored, 1) << "6 MB uploads running at once under a 10 MiB quota";
  ExpectBobUnharmed();
}

// Row 13: names that hide characters or reverse what is shown.
TEST_F(AttackBudgetsTest, InvisibleAndBidiCharactersAreShownEscaped) {
  const std::string zwsp = std::string("in") + kZwsp + "voice.pdf";
  const std::string bom = std::string(kBom) + "report.txt";
  const std::string rlo = std::string("invoice") + kRlo + "fdp.exe";
  for (const auto& name : {zwsp, bom, rlo}) ASSERT_OK(Ferry({"touch", name}));
  auto raw = [](const std::string& text) {
    return text.find(kZwsp) != std::string::npos || text.find(kBom) != std::string::npos ||
           text.find(kRlo) != std::string::npos;
  };

  auto ls = Ferry({"ls"});
  EXPECT_OK(ls);
  EXPECT_FALSE(raw(ls.out)) << ls.out;
  EXPECT_NE(ls.out.find("in\\u{200b}voice.pdf"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\\u{feff}report.txt"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("invoice\\u{202e}fdp.exe"), std::string::npos) << ls.out;
  auto ll = Ferry({"ls", "-l"});
  EXPECT_OK(ll);
  EXPECT_FALSE(raw(ll.out)) << ll.out;

  auto stat = Ferry({"stat", rlo});
  EXPECT_OK(stat);
  EXPECT_FALSE(raw(stat.out)) << stat.out;
  EXPECT_NE(stat.out.find("invoice\\u{202e}fdp.exe"), std::string::npos) << stat.out;

  auto missing = Ferry({"rm", std::string("gone") + kRlo + "txt"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_FALSE(raw(missing.err)) << missing.err;
  EXPECT_NE(missing.err.find("gone\\u{202e}txt"), std::string::npos) << missing.err;

  auto log = RunFerry({"log", "--data", data_, "--user", "alice"});
  EXPECT_OK(log);
  EXPECT_FALSE(raw(log.out)) << log.out;
  EXPECT_NE(log.out.find("invoice\\u{202e}fdp.exe"), std::string::npos) << log.out;
  ExpectBobUnharmed();
}

// Row 14 (the mv part): a symlink that points inside the home where it was
// extracted, moved to where the same text reaches another user's file.
TEST_F(AttackBudgetsTest, MoveRefusesALinkThatWouldPointOutsideTheHome) {
  fs::create_directories(HomePath("alice", "x/alice/b"));
  // From x/alice/b this is x/bob/private.txt, inside alice's home; from the
  // home itself it is files/bob/private.txt.
  fs::create_symlink("../../bob/private.txt", HomePath("alice", "x/alice/b/link"));
  fs::create_symlink("/etc/passwd", HomePath("alice", "x/abs"));

  auto start = std::chrono::steady_clock::now();
  auto up = Ferry({"mv", "x/alice/b/link", "link"});
  EXPECT_FAILS_WITH(up, "PERMISSION_DENIED");
  EXPECT_NE(up.err.find("outside your home"), std::string::npos) << up.err;
  EXPECT_FALSE(fs::is_symlink(HomePath("alice", "link")));
  // Moving the directory that holds it up a level is the same move.
  EXPECT_FAILS_WITH(Ferry({"mv", "x/alice/b", "b"}), "outside your home");
  EXPECT_FALSE(fs::exists(HomePath("alice", "b")));
  EXPECT_FAILS_WITH(Ferry({"mv", "x/abs", "x/alice/abs"}), "PERMISSION_DENIED");
  // A move that keeps the link inside is still allowed.
  EXPECT_OK(Ferry({"mkdir", "-p", "y/alice"}));
  EXPECT_OK(Ferry({"mv", "x/alice/b", "y/alice/b"}));
  EXPECT_TRUE(fs::is_symlink(HomePath("alice", "y/alice/b/link")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  ExpectBobUnharmed();
}

}  // namespace
}  // namespace ferry::e2e
