// `-` for standard input and output in put and get, and trees whose names the
// other side refuses, through the real CLI against a real server.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>

#include "ferry/v1/files.grpc.pb.h"
#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PipesE2eTest : public E2eTest {
 protected:
  // The upload area's files for alice: what a failed upload may leave.
  std::vector<std::string> Partials() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(data_ + "/uploads/alice", ec)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }
};

TEST_F(PipesE2eTest, PutFromAPipeAndGetToAPipeKeepEveryByte) {
  std::string src = Path("src.bin");
  WriteRandomFile(src, 3 * 1024 * 1024 + 4321, 11);
  auto put = RunShell("cat '" + src + "' | \"$FERRY\" put - piped.bin --trust-new-server");
  ASSERT_OK(put);
  EXPECT_EQ(put.out, "");  // stdout is the caller's: no progress, no summary
  EXPECT_EQ(Sha256File(HomePath("alice", "piped.bin")), Sha256File(src));
  EXPECT_TRUE(Partials().empty());

  std::string back = Path("back.bin");
  auto get = RunShell("\"$FERRY\" get piped.bin - --trust-new-server | cat > '" + back + "'");
  ASSERT_OK(get);
  EXPECT_EQ(Sha256File(back), Sha256File(src));
  // Nothing but the file's bytes on stdout.
  auto direct = Ferry({"get", "piped.bin", "-"});
  ASSERT_OK(direct);
  EXPECT_EQ(direct.out, ReadFile(src));
  EXPECT_FALSE(fs::exists("-"));

  // An existing file is replaced only with -f, as for files.
  EXPECT_FAILS_WITH(Ferry({"put", "-", "piped.bin"}, "alice", "new"), "ALREADY_EXISTS");
  ASSERT_OK(Ferry({"put", "-f", "-", "piped.bin"}, "alice", "new"));
  EXPECT_EQ(ReadFile(HomePath("alice", "piped.bin")), "new");
}

// With stderr on a terminal the bar is drawn there, and stdout still carries
// nothing but the file's bytes.
TEST_F(PipesE2eTest, ProgressGoesToAStderrTerminalNeverToStdout) {
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "needs script(1) for a pty";
  std::string src = Path("src.bin");
  WriteRandomFile(src, 2 * 1024 * 1024 + 7, 14);
  ASSERT_OK(Ferry({"put", src, "p.bin"}));
  std::string got = Path("got.bin");
  // script runs the command on a pty; only stdout is sent to a file.
  auto r = RunShell("script -qec '\"$FERRY\" get p.bin - > " + got + "' /dev/null");
  ASSERT_OK(r);
  EXPECT_EQ(Sha256File(got), Sha256File(src));
  EXPECT_NE(r.out.find("p.bin"), std::string::npos) << r.out;  // the bar, on the terminal
  EXPECT_NE(r.out.find("2.0 MiB"), std::string::npos) << r.out;
  auto up = RunShell("script -qec '\"$FERRY\" put - q.bin < " + src + "' /dev/null");
  ASSERT_OK(up);
  EXPECT_NE(up.out.find("q.bin"), std::string::npos) << up.out;
  EXPECT_EQ(Sha256File(HomePath("alice", "q.bin")), Sha256File(src));
}

TEST_F(PipesE2eTest, EmptyStandardInputMakesAnEmptyFile) {
  ASSERT_OK(Ferry({"put", "-", "empty.txt"}, "alice", ""));
  ASSERT_TRUE(fs::exists(HomePath("alice", "empty.txt")));
  EXPECT_EQ(fs::file_size(HomePath("alice", "empty.txt")), 0u);
  auto get = Ferry({"get", "empty.txt", "-"});
  ASSERT_OK(get);
  EXPECT_EQ(get.out, "");
}

TEST_F(PipesE2eTest, GetIntoAPipeClosedEarlyEndsQuietly) {
  std::string src = Path("big.bin");
  WriteRandomFile(src, 8 * 1024 * 1024, 12);
  ASSERT_OK(Ferry({"put", src, "big.bin"}));
  std::string head = Path("head.out"), status = Path("status");
  auto r = RunShell("( \"$FERRY\" get big.bin - --trust-new-server; echo $? > '" + status +
                    "' ) | head -c 10 > '" + head + "'");
  ASSERT_OK(r);
  EXPECT_EQ(ReadFile(head), ReadFile(src).substr(0, 10));
  // Non-zero, as for a process SIGPIPE ends, and without a word or a crash.
  EXPECT_EQ(ReadFile(status), "141\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(PipesE2eTest, APipeOverTheQuotaFailsAndLeavesNothing) {
  ASSERT_OK(RunFerry({"user", "quota", "alice", "1M", "--data", data_}));
  std::string src = Path("3m.bin");
  WriteRandomFile(src, 3 * 1024 * 1024, 13);
  auto r = RunShell("cat '" + src + "' | \"$FERRY\" put - over.bin --trust-new-server");
  EXPECT_FAILS_WITH(r, "RESOURCE_EXHAUSTED: the upload of '/over.bin' stopped after");
  EXPECT_NE(r.err.find("this would exceed your quota of 1.0 MiB"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(HomePath("alice", "over.bin")));
  EXPECT_TRUE(Partials().empty());
  // The refused pipe took none of the room: one that fits still goes.
  ASSERT_OK(Ferry({"put", "-", "fits.txt"}, "alice", std::string(600'000, 'x')));
  EXPECT_EQ(fs::file_size(HomePath("alice", "fits.txt")), 600'000u);
}

// A pipe cannot be read again, so an upload cut off halfway keeps nothing.
TEST_F(PipesE2eTest, AnInterruptedPipeLeavesNoPartial) {
  ASSERT_OK(Ferry({"ls"}));  // pins the server's certificate
  Env env = ClientEnv("alice");
  env["FERRY"] = FERRY_BINARY;
  std::string pid_file = Path("ferry.pid");
  Child sh = Child::SpawnProgram(
      "/bin/sh",
      {"-c", "(head -c 3000000 /dev/zero; sleep 5) | \"$FERRY\" put - cut.bin & echo $! > '" +
                 pid_file + "'; wait"},
      env, Path("cut.out"), Path("cut.err"));
  // Wait until the server holds some of it.
  auto held = [&] {
    for (const auto& name : Partials()) {
      std::error_code ec;
      if (fs::file_size(data_ + "/uploads/alice/" + name, ec) > 0) return true;
    }
    return false;
  };
  auto until = std::chrono::steady_clock::now() + 30s;
  while (!held() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(held()) << ReadFile(Path("cut.err"));
  pid_t ferry = std::stoi(ReadFile(pid_file));
  ASSERT_EQ(::kill(ferry, SIGKILL), 0);
  until = std::chrono::steady_clock::now() + 30s;
  while (!Partials().empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(Partials().empty());
  EXPECT_FALSE(fs::exists(HomePath("alice", "cut.bin")));
  sh.Wait(30s);
}

TEST_F(PipesE2eTest, DashNeedsARemoteNameAndDotSlashDashIsAFile) {
  auto r = Ferry({"put", "-"}, "alice", "data");
  EXPECT_FAILS_WITH(r, "INVALID_ARGUMENT: put - needs a remote name");
  EXPECT_FAILS_WITH(Ferry({"put", "-r", "-", "x"}, "alice", "data"), "INVALID_ARGUMENT");
  ASSERT_OK(Ferry({"mkdir", "d"}));
  EXPECT_FAILS_WITH(Ferry({"get", "-r", "d", "-"}), "INVALID_ARGUMENT: get -r cannot write");

  WriteFile(Path("-"), "a file named dash\n");
  auto dash = RunShell("cd '" + dir_ + "' && \"$FERRY\" put ./- dash.txt --trust-new-server");
  ASSERT_OK(dash);
  EXPECT_EQ(ReadFile(HomePath("alice", "dash.txt")), "a file named dash\n");
  // And back into a file named `-`.
  fs::remove(Path("-"));
  ASSERT_OK(RunShell("cd '" + dir_ + "' && \"$FERRY\" get dash.txt ./- --trust-new-server"));
  EXPECT_EQ(ReadFile(Path("-")), "a file named dash\n");
}

// The server checks what a pipe's last message says, with no test hooks: sent
// over the protocol itself, a wrong hash or total stores nothing.
TEST_F(PipesE2eTest, AnUnknownSizeUploadWithAWrongHashOrTotalStoresNothing) {
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status login;
  std::string token = RawLogin(channel, "alice", passwords_["alice"], &login);
  ASSERT_TRUE(login.ok()) << login.error_message();
  auto stub = v1::Files::NewStub(channel);
  auto upload = [&](const std::string& sha, int64_t total) {
    v1::BeginUploadRequest begin;
    begin.set_path("raw.bin");
    begin.set_size(-1);
    v1::BeginUploadResponse begun;
    auto ctx = RawContext(token);
    grpc::Status s = stub->BeginUpload(ctx.get(), begin, &begun);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(begun.offset(), 0);
    auto up_ctx = RawContext(token);
    v1::UploadResponse resp;
    auto writer = stub->Upload(up_ctx.get(), &resp);
    v1::UploadChunk first;
    first.set_upload_id(begun.upload_id());
    first.set_data("hello ");
    writer->Write(first);
    v1::UploadChunk last;
    last.set_data("world");
    last.set_sha256(sha);
    last.set_total_size(total);
    writer->WriteLast(last, grpc::WriteOptions());
    return writer->Finish();
  };
  std::string right = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
  std::string wrong = "c94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
  grpc::Status damaged = upload(wrong, 11);
  EXPECT_EQ(damaged.error_code(), grpc::StatusCode::DATA_LOSS) << damaged.error_message();
  EXPECT_FALSE(fs::exists(HomePath("alice", "raw.bin")));
  grpc::Status short_total = upload(right, 12);
  EXPECT_EQ(short_total.error_code(), grpc::StatusCode::DATA_LOSS) << short_total.error_message();
  EXPECT_FALSE(fs::exists(HomePath("alice", "raw.bin")));
  EXPECT_TRUE(Partials().empty());
  grpc::Status fine = upload(right, 11);
  ASSERT_TRUE(fine.ok()) << fine.error_message();
  EXPECT_EQ(ReadFile(HomePath("alice", "raw.bin")), "hello world");
}

TEST_F(PipesE2eTest, ATreeWithATabInANameSendsNothing) {
  std::string tree = Path("tree");
  fs::create_directories(tree + "/sub");
  WriteFile(tree + "/a.txt", "a\n");
  WriteFile(tree + "/sub/b\tc.txt", "b\n");
  WriteFile(tree + "/z.txt", "z\n");
  auto r = Ferry({"put", "-r", tree, "t"});
  EXPECT_FAILS_WITH(r,
                    "INVALID_ARGUMENT: put -r sent nothing: 1 name is not allowed on the server");
  EXPECT_NE(r.err.find("sub/b\\x{09}c.txt'"), std::string::npos) << r.err;  // escaped, not a tab
  EXPECT_EQ(r.err.find('\t'), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(HomePath("alice", "t")));
  EXPECT_TRUE(Partials().empty());
  // Renamed, the same tree goes whole.
  fs::rename(tree + "/sub/b\tc.txt", tree + "/sub/b c.txt");
  ASSERT_OK(Ferry({"put", "-r", tree, "t"}));
  EXPECT_EQ(TreeDigest(HomePath("alice", "t")), TreeDigest(tree));
}

TEST_F(PipesE2eTest, ManyRefusedNamesAreCountedInOneLine) {
  std::string tree = Path("many");
  fs::create_directories(tree);
  for (int i = 0; i < 5; ++i) WriteFile(tree + "/bad\x01" + std::to_string(i), "x");
  WriteFile(tree + "/good.txt", "x");
  auto r = Ferry({"put", "-r", tree, "m"});
  EXPECT_FAILS_WITH(r, "5 names are not allowed on the server");
  EXPECT_NE(r.err.find(" and 2 more"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(HomePath("alice", "m")));
}

// A name put in a home by other means than ferry (an administrator) that the
// client will not write: get -r refuses before it creates anything.
TEST_F(PipesE2eTest, GetOfARemoteTreeWithAnUnsafeNameWritesNothing) {
  ASSERT_OK(Ferry({"mkdir", "-p", "r/sub"}));
  WriteFile(HomePath("alice", "r/a.txt"), "a\n");
  WriteFile(HomePath("alice", "r/sub/b\tc.txt"), "b\n");
  WriteFile(HomePath("alice", "r/z.txt"), "z\n");
  auto r = Ferry({"get", "-r", "r", Path("out")});
  EXPECT_FAILS_WITH(r, "INVALID_ARGUMENT: get -r wrote nothing: 1 name is not safe to write here");
  EXPECT_NE(r.err.find("r/sub/b\\x{09}c.txt'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(Path("out")));
}

}  // namespace
}  // namespace ferry::e2e
