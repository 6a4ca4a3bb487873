// Trees of many small files (issue 21): put -r and get -r send files of at
// most 1 MiB many to a message over Files.PutFiles and Files.GetFiles. Each
// file is still verified, whole, on record and keeps its time; a failure
// stops the tree at that file; the raw calls refuse what the CLI never sends.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/sha256.h"
#include "core/sqlite.h"
#include "ferry/v1/files.grpc.pb.h"
#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TreeBatchTest : public E2eTest {
 protected:
  // A tree of `files` small files in ten directories, one empty file, one
  // empty directory and one 3 MiB file (sent the ordinary way).
  void MakeTree(const std::string& root, int files) {
    for (int i = 0; i < files; ++i) {
      std::string name = fmt::format("{}/d{}/f{:04}.txt", root, i % 10, i);
      fs::create_directories(fs::path(name).parent_path());
      WriteRandomFile(name, 100 + (i * 37) % 5000, static_cast<uint64_t>(i));
    }
    WriteFile(root + "/empty.txt", "");
    fs::create_directories(root + "/nothing/inside");
    WriteRandomFile(root + "/big.bin", 3 << 20, 77);
  }

  int64_t AuditCount(const std::string& where) {
    auto db = Db::Open(data_ + "/ferry.db");
    EXPECT_TRUE(db.ok());
    auto stmt = db->Prepare("SELECT count(*) FROM audit WHERE " + where);
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    auto row = stmt->Step();
    return row.ok() && *row ? stmt->Int(0) : -1;
  }

  v1::WholeFile Whole(const std::string& path, const std::string& data) {
    v1::WholeFile f;
    f.set_path(path);
    f.set_data(data);
    f.set_sha256(Sha256::HexOf(data));
    return f;
  }
};

TEST_F(TreeBatchTest, ATreeGoesUpAndDownWholeWithTimesAndAuditRecords) {
  MakeTree(Path("tree"), 600);
  // An hour ago, to the nanosecond: both directions keep it.
  struct stat st {};
  const std::string dated = Path("tree/d3/f0003.txt");
  timespec times[2] = {{0, UTIME_OMIT}, {1'700'000'000, 123'456'789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, dated.c_str(), times, 0), 0);
  int64_t uploads_before = AuditCount("operation = 'upload' AND result = 'OK'");

  ASSERT_OK(Ferry({"put", "-r", Path("tree"), "tree"}));
  EXPECT_EQ(TreeDigest(HomePath("alice", "tree")), TreeDigest(Path("tree")));
  ASSERT_EQ(::stat(HomePath("alice", "tree/d3/f0003.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123'456'789);
  EXPECT_TRUE(PartialsOf("alice").empty()) << "no partial is left behind";
  // Every file is on record as its own upload (the 601 small ones in batches,
  // the big one alone), and each batch call once more.
  EXPECT_EQ(AuditCount("operation = 'upload' AND result = 'OK'") - uploads_before, 602);
  EXPECT_GE(AuditCount("operation = 'upload-batch' AND result = 'OK'"), 1);
  EXPECT_EQ(AuditCount("operation = 'upload' AND path = '/tree/d7/f0597.txt'"), 1);

  ASSERT_OK(Ferry({"get", "-r", "tree", Path("back")}));
  EXPECT_EQ(TreeDigest(Path("back")), TreeDigest(Path("tree")));
  ASSERT_EQ(::stat(Path("back/d3/f0003.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'000);
  EXPECT_EQ(AuditCount("operation = 'download' AND path = '/tree/d7/f0597.txt'"), 1);
  for (const auto& e : fs::recursive_directory_iterator(Path("back"))) {
    EXPECT_EQ(e.path().filename().string().rfind(".", 0), std::string::npos)
        << "a temporary file was left: " << e.path();
  }
}

TEST_F(TreeBatchTest, ASecondPutStopsAtAnExistingFileAndForceReplaces) {
  MakeTree(Path("tree"), 50);
  ASSERT_OK(Ferry({"put", "-r", Path("tree"), "tree"}));
  WriteFile(Path("tree/d0/f0000.txt"), "changed");
  // Named without a destination, the tree goes to "tree" again rather than
  // into it (as cp -r would).
  auto again = Ferry({"put", "-r", Path("tree")});
  EXPECT_FAILS_WITH(again, "ALREADY_EXISTS");
  EXPECT_NE(again.err.find("already exists (use --force to replace it)"), std::string::npos)
      << again.err;
  EXPECT_NE(ReadFile(HomePath("alice", "tree/d0/f0000.txt")), "changed");
  ASSERT_OK(Ferry({"put", "-r", "--force", Path("tree")}));
  EXPECT_EQ(ReadFile(HomePath("alice", "tree/d0/f0000.txt")), "changed");
  EXPECT_EQ(TreeDigest(HomePath("alice", "tree")), TreeDigest(Path("tree")));
  // Downwards too: get -r into the directory that holds "tree" meets its
  // files, and replaces them only with --force.
  WriteFile(Path("tree/d1/f0001.txt"), "mine");
  EXPECT_FAILS_WITH(Ferry({"get", "-r", "tree", dir_}), "already exists");
  EXPECT_EQ(ReadFile(Path("tree/d1/f0001.txt")), "mine");
  ASSERT_OK(Ferry({"get", "-r", "--force", "tree", dir_}));
  EXPECT_EQ(TreeDigest(Path("tree")), TreeDigest(HomePath("alice", "tree")));
}

// A message is checked against the quota as a whole, its bytes reserved
// first (so that batches at once cannot together pass it).
TEST_F(TreeBatchTest, AQuotaRefusesABatchWhole) {
  ASSERT_OK(RunFerry({"user", "quota", "alice", "1M", "--data", data_}));
  fs::create_directories(Path("q"));
  for (int i = 0; i < 3; ++i) {
    WriteRandomFile(Path(fmt::format("q/f{}.bin", i)), 400'000, static_cast<uint64_t>(30 + i));
  }
  auto r = Ferry({"put", "-r", Path("q")});
  EXPECT_FAILS_WITH(r, "RESOURCE_EXHAUSTED: this would exceed your quota of 1.0 MiB");
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(fs::exists(HomePath("alice", fmt::format("q/f{}.bin", i)))) << i;
  }
  EXPECT_TRUE(PartialsOf("alice").empty());
  // Two of them fit.
  fs::remove(Path("q/f2.bin"));
  ASSERT_OK(Ferry({"put", "-r", Path("q")}));
  EXPECT_EQ(TreeDigest(HomePath("alice", "q")), TreeDigest(Path("q")));
}

TEST_F(TreeBatchTest, OneBarFollowsTheWholeTreeOnATerminal) {
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "needs script(1) for a pty";
  MakeTree(Path("tree"), 120);
  auto up = RunShell("script -qec '\"$FERRY\" put -r " + Path("tree") +
                     " tree --trust-new-server' /dev/null");
  ASSERT_OK(up);
  // 122 files: the 120, the empty one and the big one; one summary line.
  EXPECT_NE(up.out.find("122/122 files"), std::string::npos) << up.out;
  // A bar ends its line only when it finishes: one bar, one line.
  EXPECT_EQ(std::count(up.out.begin(), up.out.end(), '\n'), 1) << up.out;
  auto down = RunShell("script -qec '\"$FERRY\" get -r tree " + Path("back") + "' /dev/null");
  ASSERT_OK(down);
  EXPECT_NE(down.out.find("122/122 files"), std::string::npos) << down.out;
  EXPECT_EQ(std::count(down.out.begin(), down.out.end(), '\n'), 1) << down.out;
  // Without a terminal, nothing is drawn.
  auto quiet = Ferry({"get", "-r", "tree", Path("quiet")});
  ASSERT_OK(quiet);
  EXPECT_EQ(quiet.out, "");
}

TEST_F(TreeBatchTest, TheRawCallsRefuseWhatTheClientNeverSends) {
  ASSERT_OK(Ferry({"mkdir", "in"}));
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status login;
  std::string token = RawLogin(channel, "alice", passwords_["alice"], &login);
  ASSERT_TRUE(login.ok()) << login.error_message();
  auto files = v1::Files::NewStub(channel);
  auto put = [&](const v1::PutFilesRequest& req, int* answers) {
    auto ctx = RawContext(token);
    auto stream = files->PutFiles(ctx.get());
    EXPECT_TRUE(stream->Write(req));
    stream->WritesDone();
    v1::PutFilesResponse resp;
    *answers = 0;
    while (stream->Read(&resp)) ++*answers;
    return stream->Finish();
  };
  int answers = 0;

  // A damaged file in the middle: those before it are stored, none after.
  v1::PutFilesRequest req;
  *req.add_files() = Whole("in/a.txt", "first");
  v1::WholeFile bad = Whole("in/b.txt", "second");
  bad.set_data("tampered");
  *req.add_files() = bad;
  *req.add_files() = Whole("in/c.txt", "third");
  grpc::Status s = put(req, &answers);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_NE(s.error_message().find("/in/b.txt"), std::string::npos) << s.error_message();
  EXPECT_EQ(answers, 0);
  EXPECT_EQ(ReadFile(HomePath("alice", "in/a.txt")), "first");
  EXPECT_FALSE(fs::exists(HomePath("alice", "in/b.txt")));
  EXPECT_FALSE(fs::exists(HomePath("alice", "in/c.txt")));

  // Out of the home, too large, too many, into a directory that is not there.
  req.Clear();
  *req.add_files() = Whole("../bob/x.txt", "x");
  s = put(req, &answers);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  req.Clear();
  *req.add_files() = Whole("in/huge.bin", std::string((1 << 20) + 1, 'h'));
  s = put(req, &answers);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("at most 1 MiB"), std::string::npos) << s.error_message();
  req.Clear();
  for (int i = 0; i < 1001; ++i) *req.add_files() = Whole(fmt::format("in/n{}", i), "n");
  s = put(req, &answers);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_FALSE(fs::exists(HomePath("alice", "in/n0")));
  req.Clear();
  *req.add_files() = Whole("nowhere/x.txt", "x");
  s = put(req, &answers);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  // The same path twice in one message: the second replaces only if asked.
  req.Clear();
  *req.add_files() = Whole("in/twice.txt", "one");
  *req.add_files() = Whole("in/twice.txt", "two");
  s = put(req, &answers);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(ReadFile(HomePath("alice", "in/twice.txt")), "one");
  EXPECT_TRUE(PartialsOf("alice").empty());

  // GetFiles: missing, a directory, too large, too many.
  WriteRandomFile(Path("big.bin"), (1 << 20) + 1, 5);
  ASSERT_OK(Ferry({"put", Path("big.bin"), "in/big.bin"}));
  auto get = [&](const std::vector<std::string>& paths, int* received) {
    v1::GetFilesRequest g;
    for (const auto& p : paths) g.add_paths(p);
    auto ctx = RawContext(token);
    auto reader = files->GetFiles(ctx.get(), g);
    v1::GetFilesResponse resp;
    *received = 0;
    while (reader->Read(&resp)) *received += resp.files_size();
    return reader->Finish();
  };
  int received = 0;
  EXPECT_EQ(get({"in/a.txt", "in/none.txt"}, &received).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(get({"in"}, &received).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  s = get({"in/big.bin"}, &received);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("more than 1 MiB"), std::string::npos) << s.error_message();
  EXPECT_EQ(get(std::vector<std::string>(1001, "in/a.txt"), &received).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  s = get({"in/a.txt", "in/twice.txt"}, &received);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(received, 2);
  // Without a session, nothing at all.
  auto ctx = RawContext("made-up-token");
  v1::GetFilesRequest g;
  g.add_paths("in/a.txt");
  auto reader = files->GetFiles(ctx.get(), g);
  v1::GetFilesResponse resp;
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace ferry::e2e
