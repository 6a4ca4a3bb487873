// `ferry sync` both ways against a real server, through the real CLI.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SyncTest : public E2eTest {
 protected:
  // Path -> contents of every file under `root`; directories as "/" entries.
  static std::map<std::string, std::string> Snapshot(const std::string& root) {
    std::map<std::string, std::string> out;
    for (auto& e : fs::recursive_directory_iterator(root)) {
      std::string rel = fs::relative(e.path(), root).generic_string();
      out[rel] = e.is_directory() ? "/" : ReadFile(e.path().string());
    }
    return out;
  }
  void MakeTree(const std::string& root) {
    fs::create_directories(root + "/docs/deep");
    fs::create_directories(root + "/empty");
    for (int i = 0; i < 12; ++i) {
      WriteFile(root + "/docs/f" + std::to_string(i) + ".txt", "file " + std::to_string(i));
    }
    WriteFile(root + "/docs/deep/x.bin", std::string(5000, 'x'));
    WriteFile(root + "/top.txt", "top");
  }
};

TEST_F(SyncTest, UpSendsOnlyWhatDiffersAndMirrorsDeletions) {
  MakeTree(Path("local"));
  auto first = Ferry({"sync", Path("local"), ":backup"});
  ASSERT_OK(first);
  EXPECT_NE(first.out.find("14 sent"), std::string::npos) << first.out;
  EXPECT_EQ(Snapshot(HomePath("alice", "backup")), Snapshot(Path("local")));
  // The upload kept each file's modification time.
  EXPECT_EQ(fs::last_write_time(HomePath("alice", "backup/top.txt")),
            fs::last_write_time(Path("local/top.txt")));

  auto again = Ferry({"sync", Path("local"), ":backup"});
  ASSERT_OK(again);
  EXPECT_NE(again.out.find("0 sent (0 B), 0 deleted, 0 directories made, 14 unchanged"),
            std::string::npos)
      << again.out;

  // One changed, one new, one gone, and a file only the server has.
  WriteFile(Path("local/docs/f3.txt"), "file 3, edited");
  WriteFile(Path("local/docs/new.txt"), "new");
  fs::remove(Path("local/docs/f7.txt"));
  WriteFile(HomePath("alice", "backup/docs/deep/stray.txt"), "only on the server");
  auto dry = Ferry({"sync", "--dry-run", "--delete", Path("local"), ":backup"});
  ASSERT_OK(dry);
  EXPECT_NE(dry.out.find("would send docs/f3.txt (size differs)"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would send docs/new.txt (new)"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would delete docs/f7.txt"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("would delete docs/deep/stray.txt"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("dry run, nothing changed: 2 sent"), std::string::npos) << dry.out;
  EXPECT_EQ(ReadFile(HomePath("alice", "backup/docs/f3.txt")), "file 3")
      << "a dry run changes nothing";
  EXPECT_TRUE(fs::exists(HomePath("alice", "backup/docs/f7.txt")));

  // Without --delete the extras stay; with it the server mirrors the tree.
  ASSERT_OK(Ferry({"sync", Path("local"), ":backup"}));
  EXPECT_TRUE(fs::exists(HomePath("alice", "backup/docs/f7.txt")));
  EXPECT_EQ(ReadFile(HomePath("alice", "backup/docs/f3.txt")), "file 3, edited");
  auto mirror = Ferry({"sync", "--delete", Path("local"), ":backup"});
  ASSERT_OK(mirror);
  EXPECT_NE(mirror.out.find("0 sent (0 B), 2 deleted"), std::string::npos) << mirror.out;
  EXPECT_EQ(Snapshot(HomePath("alice", "backup")), Snapshot(Path("local")));
}

TEST_F(SyncTest, ChecksumFindsAChangeThatSizeAndTimeHide) {
  MakeTree(Path("local"));
  ASSERT_OK(Ferry({"sync", Path("local"), ":backup"}));
  // Same size, same time, other bytes: only a checksum tells.
  auto mtime = fs::last_write_time(Path("local/top.txt"));
  WriteFile(Path("local/top.txt"), "TOP");
  fs::last_write_time(Path("local/top.txt"), mtime);
  auto plain = Ferry({"sync", Path("local"), ":backup"});
  ASSERT_OK(plain);
  EXPECT_NE(plain.out.find("0 sent"), std::string::npos) << plain.out;
  auto checked = Ferry({"sync", "--checksum", Path("local"), ":backup"});
  ASSERT_OK(checked);
  EXPECT_NE(checked.out.find("send top.txt (content differs)"), std::string::npos) << checked.out;
  EXPECT_NE(checked.out.find("1 sent"), std::string::npos) << checked.out;
  EXPECT_EQ(ReadFile(HomePath("alice", "backup/top.txt")), "TOP");
}

TEST_F(SyncTest, DownBringsChangesAndMirrorsDeletions) {
  MakeTree(HomePath("alice", "photos"));
  auto first = Ferry({"sync", ":photos", Path("copy")});
  ASSERT_OK(first);
  EXPECT_EQ(Snapshot(Path("copy")), Snapshot(HomePath("alice", "photos")));
  auto again = Ferry({"sync", ":photos", Path("copy")});
  ASSERT_OK(again);
  EXPECT_NE(again.out.find("0 sent (0 B), 0 deleted, 0 directories made, 14 unchanged"),
            std::string::npos)
      << again.out;
  // The server's copy changes (a newer time, same size), one goes, one is new.
  WriteFile(HomePath("alice", "photos/docs/f1.txt"), "FILE 1");
  fs::last_write_time(HomePath("alice", "photos/docs/f1.txt"),
                      fs::last_write_time(Path("copy/docs/f1.txt")) + 5s);
  fs::remove(HomePath("alice", "photos/top.txt"));
  WriteFile(HomePath("alice", "photos/empty/now.txt"), "now");
  WriteFile(Path("copy/local-only.txt"), "mine");
  auto down = Ferry({"sync", "--delete", ":photos", Path("copy")});
  ASSERT_OK(down);
  EXPECT_NE(down.out.find("send docs/f1.txt (modified)"), std::string::npos) << down.out;
  EXPECT_NE(down.out.find("delete local-only.txt"), std::string::npos) << down.out;
  EXPECT_EQ(Snapshot(Path("copy")), Snapshot(HomePath("alice", "photos")));
}

TEST_F(SyncTest, AnInterruptedSyncContinuesWhenRunAgain) {
  MakeTree(Path("local"));
  WriteRandomFile(Path("local/zz-big.bin"), 8 << 20, 11);
  Child sync =
      Child::Spawn({"sync", "--limit-rate", "2M", Path("local"), ":backup", "--trust-new-server"},
                   ClientEnv("alice"), Path("sync.out"), Path("sync.err"));
  auto start = std::chrono::steady_clock::now();
  // Killed once the big file, sent last, is under way.
  while (PartialsOf("alice").empty() && std::chrono::steady_clock::now() - start < 30s) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(PartialsOf("alice").empty())
      << ReadFile(Path("sync.out")) << ReadFile(Path("sync.err"));
  std::this_thread::sleep_for(500ms);
  sync.Signal(SIGKILL);
  ASSERT_TRUE(sync.Wait(10s).has_value());
  EXPECT_FALSE(fs::exists(HomePath("alice", "backup/zz-big.bin")));
  auto rerun = Ferry({"sync", Path("local"), ":backup"});
  ASSERT_OK(rerun);
  EXPECT_NE(rerun.out.find("1 sent"), std::string::npos) << rerun.out;
  EXPECT_NE(rerun.out.find("14 unchanged"), std::string::npos) << rerun.out;
  EXPECT_NE(rerun.err.find("resuming"), std::string::npos) << rerun.err;
  EXPECT_EQ(Sha256File(HomePath("alice", "backup/zz-big.bin")),
            Sha256File(Path("local/zz-big.bin")));
}

TEST_F(SyncTest, BadNamesAndBadArgumentsChangeNothing) {
  MakeTree(Path("local"));
  WriteFile(Path("local/docs/tab\there.txt"), "tab");
  auto bad = Ferry({"sync", Path("local"), ":backup"});
  EXPECT_FAILS_WITH(bad,
                    "INVALID_ARGUMENT: sync changed nothing: 1 name is not allowed on the "
                    "server: '" +
                        Path("local") + "/docs/tab\\x{09}here.txt'");
  EXPECT_FALSE(fs::exists(HomePath("alice", "backup")));
  fs::remove(Path("local/docs/tab\there.txt"));
  EXPECT_FAILS_WITH(Ferry({"sync", Path("local"), Path("other")}),
                    "INVALID_ARGUMENT: sync needs one local and one remote side");
  WriteFile(HomePath("alice", "afile"), "x");
  EXPECT_FAILS_WITH(Ferry({"sync", Path("local"), ":afile"}), "'afile' is not a remote directory");
  EXPECT_FAILS_WITH(Ferry({"sync", ":nothing", Path("copy")}), "NOT_FOUND");
  EXPECT_FALSE(fs::exists(Path("copy")));
}

}  // namespace
}  // namespace ferry::e2e
