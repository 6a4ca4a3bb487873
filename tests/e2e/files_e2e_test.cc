// Every file command against a real server, driven through the real client.
#include <algorithm>
#include <filesystem>
#include <thread>

#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;

class FilesTest : public E2eTest {};

TEST_F(FilesTest, MkdirTouchLsStatRmMv) {
  ASSERT_OK(Ferry({"mkdir", "docs"}));
  EXPECT_FAILS_WITH(Ferry({"mkdir", "docs"}), "ALREADY_EXISTS");
  ASSERT_OK(Ferry({"mkdir", "-p", "docs/a/b"}));
  ASSERT_OK(Ferry({"touch", "docs/empty.txt"}));
  EXPECT_FAILS_WITH(Ferry({"touch", "docs/empty.txt"}), "ALREADY_EXISTS");

  auto ls = Ferry({"ls", "docs"});
  ASSERT_OK(ls);
  EXPECT_EQ(ls.out, "a/\nempty.txt\n");
  auto ll = Ferry({"ls", "-l", "docs"});
  ASSERT_OK(ll);
  EXPECT_NE(ll.out.find("d0755"), std::string::npos) << ll.out;
  EXPECT_NE(ll.out.find(" 0 "), std::string::npos) << ll.out;

  auto st = Ferry({"stat", "docs/empty.txt"});
  ASSERT_OK(st);
  EXPECT_NE(st.out.find("type:  file"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("size:  0"), std::string::npos) << st.out;
  EXPECT_FAILS_WITH(Ferry({"stat", "docs/nope.txt"}), "NOT_FOUND: '/docs/nope.txt' does not exist");

  ASSERT_OK(Ferry({"mv", "docs/empty.txt", "docs/renamed.txt"}));
  EXPECT_TRUE(fs::exists(HomePath("alice", "docs/renamed.txt")));
  ASSERT_OK(Ferry({"touch", "docs/other.txt"}));
  EXPECT_FAILS_WITH(Ferry({"mv", "docs/renamed.txt", "docs/other.txt"}), "ALREADY_EXISTS");
  ASSERT_OK(Ferry({"mv", "--force", "docs/renamed.txt", "docs/other.txt"}));
  EXPECT_FALSE(fs::exists(HomePath("alice", "docs/renamed.txt")));
  // mv onto a directory moves into it.
  ASSERT_OK(Ferry({"mv", "docs/other.txt", "docs/a"}));
  EXPECT_TRUE(fs::exists(HomePath("alice", "docs/a/other.txt")));

  EXPECT_FAILS_WITH(Ferry({"rm", "docs"}), "not empty");
  ASSERT_OK(Ferry({"rm", "-r", "docs"}));
  EXPECT_FALSE(fs::exists(HomePath("alice", "docs")));
  EXPECT_FAILS_WITH(Ferry({"rm", "docs"}), "NOT_FOUND");
}

TEST_F(FilesTest, PutGetRoundTripWithHashes) {
  std::string src = Path("src.bin");
  WriteRandomFile(src, 5 * 1024 * 1024 + 123, 7);
  ASSERT_OK(Ferry({"put", src, "up.bin"}));
  EXPECT_EQ(Sha256File(HomePath("alice", "up.bin")), Sha256File(src));
  EXPECT_FAILS_WITH(Ferry({"put", src, "up.bin"}), "ALREADY_EXISTS");

  auto st = Ferry({"stat", "--sha256", "up.bin"});
  ASSERT_OK(st);
  EXPECT_NE(st.out.find("sha256: " + Sha256File(src)), std::string::npos) << st.out;

  std::string dst = Path("dst.bin");
  ASSERT_OK(Ferry({"get", "up.bin", dst}));
  EXPECT_EQ(Sha256File(dst), Sha256File(src));
  EXPECT_FALSE(fs::exists(dst + ".part"));
  EXPECT_FAILS_WITH(Ferry({"get", "up.bin", dst}), "already exists");
  ASSERT_OK(Ferry({"get", "--force", "up.bin", dst}));

  // An empty file travels too.
  WriteFile(Path("empty"), "");
  ASSERT_OK(Ferry({"put", Path("empty"), "empty"}));
  ASSERT_OK(Ferry({"get", "empty", Path("empty.back")}));
  EXPECT_EQ(ReadFile(Path("empty.back")), "");
}

TEST_F(FilesTest, HashesStayRightWhenAFileChangesBehindFerrysBack) {
  WriteFile(Path("orig"), "original contents");
  ASSERT_OK(Ferry({"put", Path("orig"), "f.txt"}));
  // Another program rewrites the file in place (same size, new bytes).
  WriteFile(HomePath("alice", "f.txt"), "ORIGINAL CONTENTS");
  std::filesystem::last_write_time(
      HomePath("alice", "f.txt"),
      std::filesystem::file_time_type::clock::now() + std::chrono::seconds(5));
  auto st = Ferry({"stat", "--sha256", "f.txt"});
  ASSERT_OK(st);
  EXPECT_NE(st.out.find(Sha256File(HomePath("alice", "f.txt"))), std::string::npos) << st.out;
  ASSERT_OK(Ferry({"get", "f.txt", Path("back.txt")}));
  EXPECT_EQ(ReadFile(Path("back.txt")), "ORIGINAL CONTENTS");
}

TEST_F(FilesTest, PutIntoDirectoryAndDefaultNames) {
  WriteFile(Path("note.txt"), "hello");
  ASSERT_OK(Ferry({"mkdir", "inbox"}));
  ASSERT_OK(Ferry({"put", Path("note.txt"), "inbox"}));
  EXPECT_EQ(ReadFile(HomePath("alice", "inbox/note.txt")), "hello");
  ASSERT_OK(Ferry({"put", Path("note.txt")}));
  EXPECT_EQ(ReadFile(HomePath("alice", "note.txt")), "hello");
  // A trailing slash means "into this directory", which must exist.
  EXPECT_FAILS_WITH(Ferry({"put", Path("note.txt"), "nosuchdir/"}), "NOT_FOUND");
  EXPECT_FALSE(std::filesystem::exists(HomePath("alice", "nosuchdir")));
  ASSERT_OK(Ferry({"put", "--force", Path("note.txt"), "inbox/"}));
  EXPECT_FAILS_WITH(Ferry({"put", Path("note.txt"), "note.txt/"}), "not a directory");
  fs::create_directories(Path("downloads"));
  ASSERT_OK(Ferry({"get", "inbox/note.txt", Path("downloads")}));
  EXPECT_EQ(ReadFile(Path("downloads/note.txt")), "hello");
}

TEST_F(FilesTest, RecursivePutAndGet) {
  fs::create_directories(Path("tree/sub/deeper"));
  WriteFile(Path("tree/a.txt"), "a");
  WriteFile(Path("tree/sub/b.txt"), "bb");
  WriteRandomFile(Path("tree/sub/deeper/c.bin"), 300000, 3);
  EXPECT_FAILS_WITH(Ferry({"put", Path("tree"), "tree"}), "is a directory");
  ASSERT_OK(Ferry({"put", "-r", Path("tree"), "tree"}));
  EXPECT_EQ(ReadFile(HomePath("alice", "tree/sub/b.txt")), "bb");
  ASSERT_OK(Ferry({"get", "-r", "tree", Path("back")}));
  EXPECT_EQ(ReadFile(Path("back/a.txt")), "a");
  EXPECT_EQ(ReadFile(Path("back/sub/b.txt")), "bb");
  EXPECT_EQ(Sha256File(Path("back/sub/deeper/c.bin")), Sha256File(Path("tree/sub/deeper/c.bin")));
}

TEST_F(FilesTest, HeadPreviewsTheFirstBytes) {
  std::string text(5000, 'x');
  text[0] = 'A';
  WriteFile(Path("big.txt"), text);
  ASSERT_OK(Ferry({"put", Path("big.txt"), "big.txt"}));
  auto h = Ferry({"head", "big.txt"});
  ASSERT_OK(h);
  EXPECT_EQ(h.out.size(), 1024u);
  EXPECT_EQ(h.out[0], 'A');
  auto h10 = Ferry({"head", "-c", "10", "big.txt"});
  ASSERT_OK(h10);
  EXPECT_EQ(h10.out, text.substr(0, 10));
  EXPECT_FAILS_WITH(Ferry({"head", "-c", "99999999", "big.txt"}), "INVALID_ARGUMENT");
  ASSERT_OK(Ferry({"mkdir", "d"}));
  EXPECT_FAILS_WITH(Ferry({"head", "d"}), "is a directory");
}

TEST_F(FilesTest, ShellKeepsOneConnectionWithCdPwdLcd) {
  fs::create_directories(Path("local"));
  WriteFile(Path("local/up.txt"), "from the shell");
  std::string script =
      "mkdir -p work/inner\n"
      "cd work\n"
      "pwd\n"
      "lcd " +
      Path("local") +
      "\n"
      "put up.txt\n"
      "ls\n"
      "cd inner\n"
      "pwd\n"
      "cd ..\n"
      "head up.txt\n"
      "cd /\n"
      "ls\n"
      "stat nope\n"
      "ls /work\n";
  auto r = Ferry({"shell"}, "alice", script);
  EXPECT_OK(r);
  EXPECT_NE(r.out.find("/work\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/work/inner\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("from the shell"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(HomePath("alice", "work/up.txt")), "from the shell");
}

TEST_F(FilesTest, AuditLogRecordsOperations) {
  ASSERT_OK(Ferry({"mkdir", "audited"}));
  ASSERT_OK(Ferry({"stat", "audited"}));
  EXPECT_FAILS_WITH(Ferry({"stat", "missing"}), "NOT_FOUND");
  // The audit writer is asynchronous; give it a moment.
  std::string log;
  for (int i = 0; i < 100; ++i) {
    log = RunFerry({"log", "--data", data_, "--user", "alice"}).out;
    if (log.find("NOT_FOUND") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(log.find("mkdir"), std::string::npos) << log;
  EXPECT_NE(log.find("/audited"), std::string::npos) << log;
  EXPECT_NE(log.find("login"), std::string::npos) << log;
  EXPECT_NE(log.find("127.0.0.1"), std::string::npos) << log;
  EXPECT_NE(log.find("NOT_FOUND"), std::string::npos) << log;
  auto limited = RunFerry({"log", "--data", data_, "--limit", "1"});
  EXPECT_EQ(std::count(limited.out.begin(), limited.out.end(), '\n'), 1) << limited.out;
}

}  // namespace
}  // namespace ferry::e2e
