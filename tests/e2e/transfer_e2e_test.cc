// Transfers under stress: interruptions and resumption, kill -9, graceful
// shutdown, many concurrent clients on shared names, limits and timeouts.
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int64_t SizeOrZero(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

// The size of the one partial upload in the data dir, or 0.
int64_t PartialUploadBytes(const std::string& data) {
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(data + "/uploads", ec)) {
    if (e.path().extension() == ".part") return SizeOrZero(e.path().string());
  }
  return 0;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

class TransferTest : public E2eTest {
 protected:
  Child SpawnClient(const std::vector<std::string>& args, const std::string& tag) {
    std::vector<std::string> full = args;
    full.push_back("--trust-new-server");
    return Child::Spawn(full, ClientEnv("alice"), Path(tag + ".out"), Path(tag + ".err"));
  }
};

TEST_F(TransferTest, KillDashNineMidUploadLeavesNothingAndTheRetryResumes) {
  const size_t kSize = 12 * 1024 * 1024;
  WriteRandomFile(Path("big.bin"), kSize, 11);
  ASSERT_OK(Ferry({"ls"}));  // pin the certificate before the slow upload
  Child put = SpawnClient({"put", "--limit-rate", "3M", Path("big.bin"), "big.bin"}, "put1");
  ASSERT_TRUE(WaitFor([&] { return PartialUploadBytes(data_) > 2 * 1024 * 1024; }, 30s))
      << ReadFile(Path("put1.err"));
  std::string address = server_.address();
  server_.child().Signal(SIGKILL);
  server_.child().Wait(10s);
  auto put_exit = put.Wait(30s);
  ASSERT_TRUE(put_exit.has_value());
  EXPECT_NE(*put_exit, 0);
  // Nothing half-written is visible in the home.
  EXPECT_FALSE(fs::exists(HomePath("alice", "big.bin")));
  EXPECT_TRUE(fs::is_empty(HomePath("alice", "")));
  int64_t held = PartialUploadBytes(data_);
  EXPECT_GT(held, 0);

  server_.Start(data_, {}, address);
  auto again = Ferry({"put", Path("big.bin"), "big.bin"});
  ASSERT_OK(again);
  EXPECT_NE(again.err.find("resuming upload"), std::string::npos) << again.err;
  EXPECT_EQ(Sha256File(HomePath("alice", "big.bin")), Sha256File(Path("big.bin")));
  EXPECT_EQ(PartialUploadBytes(data_), 0);  // the partial became the file
}

TEST_F(TransferTest, LocalFileShrinkingMidUploadEndsTheUploadAtOnce) {
  WriteRandomFile(Path("big.bin"), 12 * 1024 * 1024, 12);
  ASSERT_OK(Ferry({"ls"}));  // pin the certificate before the slow upload
  Child put = SpawnClient({"put", "--limit-rate", "3M", Path("big.bin"), "big.bin"}, "shrink");
  ASSERT_TRUE(WaitFor([&] { return PartialUploadBytes(data_) > 1024 * 1024; }, 30s))
      << ReadFile(Path("shrink.err"));
  fs::resize_file(Path("big.bin"), 1024 * 1024);
  // The client gives up on its own call instead of waiting for the server's
  // stall timeout (100 s) with the stream still open.
  auto code = put.Wait(15s);
  ASSERT_TRUE(code.has_value()) << "the upload hung after the local file shrank";
  EXPECT_NE(*code, 0);
  std::string err = ReadFile(Path("shrink.err"));
  EXPECT_NE(err.find("shrank while uploading"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(HomePath("alice", "big.bin")));
}

TEST_F(TransferTest, OverwritingUploadKilledMidwayKeepsTheOldVersion) {
  WriteFile(Path("v1"), "version one");
  ASSERT_OK(Ferry({"put", Path("v1"), "doc"}));
  WriteRandomFile(Path("v2"), 8 * 1024 * 1024, 5);
  Child put = SpawnClient({"put", "--force", "--limit-rate", "2M", Path("v2"), "doc"}, "put2");
  ASSERT_TRUE(WaitFor([&] { return PartialUploadBytes(data_) > 1024 * 1024; }, 30s));
  server_.child().Signal(SIGKILL);
  server_.child().Wait(10s);
  put.Wait(30s);
  EXPECT_EQ(ReadFile(HomePath("alice", "doc")), "version one");
}

TEST_F(TransferTest, InterruptedDownloadResumesFromThePartFile) {
  const size_t kSize = 10 * 1024 * 1024;
  WriteRandomFile(HomePath("alice", "remote.bin"), kSize, 21);
  ASSERT_OK(Ferry({"ls"}));
  std::string local = Path("local.bin");
  Child get = SpawnClient({"get", "--limit-rate", "3M", "remote.bin", local}, "get1");
  ASSERT_TRUE(WaitFor([&] { return SizeOrZero(local + ".part") > 2 * 1024 * 1024; }, 30s));
  get.Signal(SIGKILL);
  get.Wait(10s);
  EXPECT_FALSE(fs::exists(local));
  int64_t partial = SizeOrZero(local + ".part");
  EXPECT_GT(partial, 0);
  EXPECT_LT(partial, static_cast<int64_t>(kSize));

  auto again = Ferry({"get", "remote.bin", local});
  ASSERT_OK(again);
  EXPECT_NE(again.err.find("resuming download"), std::string::npos) << again.err;
  EXPECT_EQ(Sha256File(local), Sha256File(HomePath("alice", "remote.bin")));
  EXPECT_FALSE(fs::exists(local + ".part"));
}

TEST_F(TransferTest, PartFileFerryDidNotMakeIsLeftAloneUnlessForced) {
  WriteRandomFile(HomePath("alice", "f.bin"), 3 * 1024 * 1024, 1);
  // A .part that ferry did not make (another program's partial download, say):
  // get neither resumes from it nor deletes it.
  WriteRandomFile(Path("f.bin.part"), 1024 * 1024, 99);
  std::string before = Sha256File(Path("f.bin.part"));
  auto r = Ferry({"get", "f.bin", Path("f.bin")});
  EXPECT_FAILS_WITH(r, "FAILED_PRECONDITION");
  EXPECT_NE(r.err.find("not made by ferry"), std::string::npos) << r.err;
  EXPECT_EQ(Sha256File(Path("f.bin.part")), before);
  EXPECT_FALSE(fs::exists(Path("f.bin")));
  // --force replaces it.
  auto forced = Ferry({"get", "--force", "f.bin", Path("f.bin")});
  ASSERT_OK(forced);
  EXPECT_EQ(Sha256File(Path("f.bin")), Sha256File(HomePath("alice", "f.bin")));
  EXPECT_FALSE(fs::exists(Path("f.bin.part")));
}

TEST_F(TransferTest, StalePartFileFromAnotherVersionIsDetectedAndRefetched) {
  // ferry's own partial, left by an interrupted get of an older version.
  const size_t kSize = 10 * 1024 * 1024;
  WriteRandomFile(HomePath("alice", "f.bin"), kSize, 1);
  ASSERT_OK(Ferry({"ls"}));
  std::string local = Path("f.bin");
  Child get = SpawnClient({"get", "--limit-rate", "3M", "f.bin", local}, "get2");
  ASSERT_TRUE(WaitFor([&] { return SizeOrZero(local + ".part") > 1024 * 1024; }, 30s));
  get.Signal(SIGKILL);
  get.Wait(10s);
  ASSERT_GT(SizeOrZero(local + ".part"), 0);
  // A new version of the same size replaces the remote file.
  WriteRandomFile(HomePath("alice", "f.bin"), kSize, 2);
  auto r = Ferry({"get", "f.bin", local});
  ASSERT_OK(r);
  EXPECT_NE(r.err.find("starting over"), std::string::npos) << r.err;
  EXPECT_EQ(Sha256File(local), Sha256File(HomePath("alice", "f.bin")));
  EXPECT_FALSE(fs::exists(local + ".part"));
}

TEST_F(TransferTest, SigtermLetsTheRunningTransferFinish) {
  WriteRandomFile(Path("g.bin"), 6 * 1024 * 1024, 2);
  ASSERT_OK(Ferry({"ls"}));
  Child put = SpawnClient({"put", "--limit-rate", "4M", Path("g.bin"), "g.bin"}, "put3");
  ASSERT_TRUE(WaitFor([&] { return PartialUploadBytes(data_) > 1024 * 1024; }, 30s));
  server_.child().Signal(SIGTERM);
  auto put_exit = put.Wait(60s);
  ASSERT_TRUE(put_exit.has_value());
  EXPECT_EQ(*put_exit, 0) << ReadFile(Path("put3.err"));
  EXPECT_EQ(Sha256File(HomePath("alice", "g.bin")), Sha256File(Path("g.bin")));
  auto server_exit = server_.child().Wait(30s);
  ASSERT_TRUE(server_exit.has_value());
  EXPECT_EQ(*server_exit, 0);
  EXPECT_NE(server_.log().find("ferry server stopped"), std::string::npos);
}

class LimitsTest : public TransferTest {
 protected:
  void SetUp() override {
    server_flags_ = {"--max-clients", "2", "--idle-timeout", "2"};
    TransferTest::SetUp();
  }
};

// The cap alone: the idle timeout is long enough that no session of the
// test idles out while it runs (three logins and a `ferry ls` took over 2 s
// under ASan on a loaded machine).
class ClientCapTest : public TransferTest {
 protected:
  void SetUp() override {
    server_flags_ = {"--max-clients", "2", "--idle-timeout", "120"};
    TransferTest::SetUp();
  }
};

TEST_F(ClientCapTest, TheClientBeyondTheCapIsToldTheServerIsFull) {
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status s1, s2, s3;
  std::string t1 = RawLogin(channel, "alice", "alice-password", &s1);
  std::string t2 = RawLogin(channel, "alice", "alice-password", &s2);
  ASSERT_TRUE(s1.ok() && s2.ok());
  RawLogin(channel, "alice", "alice-password", &s3);
  EXPECT_EQ(s3.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto cli = Ferry({"ls"});
  EXPECT_FAILS_WITH(cli, "RESOURCE_EXHAUSTED: the server is full");
  // A client that leaves frees its place.
  auto auth = v1::Auth::NewStub(channel);
  v1::LogoutResponse out;
  ASSERT_TRUE(auth->Logout(RawContext(t1).get(), v1::LogoutRequest(), &out).ok());
  EXPECT_OK(Ferry({"ls"}));
}

TEST_F(LimitsTest, IdleClientsAreDisconnected) {
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status s;
  std::string token = RawLogin(channel, "alice", "alice-password", &s);
  ASSERT_TRUE(s.ok());
  auto files = v1::Files::NewStub(channel);
  v1::StatRequest req;
  v1::StatResponse resp;
  ASSERT_TRUE(files->Stat(RawContext(token).get(), req, &resp).ok());
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(files->Stat(RawContext(token).get(), req, &resp).ok()) << "activity keeps it alive";
  std::this_thread::sleep_for(2500ms);
  auto idle = files->Stat(RawContext(token).get(), req, &resp);
  EXPECT_EQ(idle.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(idle.error_message().find("without activity"), std::string::npos)
      << idle.error_message();
  // Its place is free again: two new clients fit.
  RawLogin(channel, "alice", "alice-password", &s);
  EXPECT_TRUE(s.ok());
  RawLogin(channel, "alice", "alice-password", &s);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(TransferTest, FiftyConcurrentClientsOnSharedNamesCorruptNothing) {
  // Four known versions of the shared file; whatever wins, it must be one of them.
  std::set<std::string> versions;
  for (int v = 0; v < 4; ++v) {
    std::string p = Path("v" + std::to_string(v));
    WriteRandomFile(p, 256 * 1024 + static_cast<size_t>(v) * 4097, 100 + v);
    versions.insert(Sha256File(p));
  }
  ASSERT_OK(Ferry({"mkdir", "shared"}));
  constexpr int kClients = 50;
  std::vector<Child> clients;
  for (int c = 0; c < kClients; ++c) {
    std::string v = Path("v" + std::to_string(c % 4));
    std::string mine = "shared/c" + std::to_string(c);
    std::string script = "put --force " + v +
                         " shared/same.bin\n"
                         "put " +
                         v + " " + mine +
                         "\n"
                         "ls shared\n"
                         "mv --force " +
                         mine +
                         " shared/moved.bin\n"
                         "get --force shared/same.bin " +
                         Path("got" + std::to_string(c)) +
                         "\n"
                         "mkdir -p shared/dir/sub\n"
                         "touch shared/dir/t" +
                         std::to_string(c) +
                         "\n"
                         "put --force " +
                         v +
                         " shared/dir/same.bin\n"
                         "rm shared/dir/t" +
                         std::to_string(c) +
                         "\n"
                         "stat --sha256 shared/same.bin\n"
                         "mv --force shared/moved.bin shared/same.bin\n"
                         "get --force shared/same.bin " +
                         Path("got" + std::to_string(c)) + "\n";
    std::string in = Path("script" + std::to_string(c));
    WriteFile(in, script);
    std::vector<std::string> args = {"shell", "--trust-new-server"};
    clients.push_back(Child::Spawn(args, ClientEnv("alice"), Path("c" + std::to_string(c) + ".out"),
                                   Path("c" + std::to_string(c) + ".err"), in));
  }
  for (int c = 0; c < kClients; ++c) {
    auto code = clients[static_cast<size_t>(c)].Wait(240s);
    ASSERT_TRUE(code.has_value()) << "client " << c << " hung";
    std::string err = ReadFile(Path("c" + std::to_string(c) + ".err"));
    // Races on shared names may legitimately fail (NOT_FOUND after another's
    // move); corruption or a crash may not.
    EXPECT_EQ(err.find("DATA_LOSS"), std::string::npos) << err;
    EXPECT_EQ(err.find("INTERNAL"), std::string::npos) << err;
    EXPECT_EQ(err.find("UNAVAILABLE"), std::string::npos) << err;
  }
  ASSERT_TRUE(server_.child().Running());
  // Every file that exists is exactly one of the versions, wherever it ended up.
  for (auto& e : fs::recursive_directory_iterator(HomePath("alice", ""))) {
    if (!e.is_regular_file()) continue;
    if (e.path().filename().string().rfind("t", 0) == 0) continue;  // touched, empty
    EXPECT_EQ(versions.count(Sha256File(e.path().string())), 1u) << e.path();
  }
  for (int c = 0; c < kClients; ++c) {
    std::string got = Path("got" + std::to_string(c));
    if (fs::exists(got)) {
      EXPECT_EQ(versions.count(Sha256File(got)), 1u) << got;
    }
    EXPECT_FALSE(fs::exists(got + ".part")) << got;
  }
  // The listing the server gives matches the directory, with no partial files.
  auto ls = Ferry({"ls", "shared"});
  ASSERT_OK(ls);
  std::string expected;
  std::set<std::string> names;
  for (auto& e : fs::directory_iterator(HomePath("alice", "shared"))) {
    names.insert(e.path().filename().string() + (e.is_directory() ? "/" : ""));
  }
  for (const auto& n : names) expected += n + "\n";
  EXPECT_EQ(ls.out, expected);
  EXPECT_EQ(ls.out.find(".part"), std::string::npos);
  EXPECT_TRUE(fs::exists(HomePath("alice", "shared/same.bin")));
}

}  // namespace
}  // namespace ferry::e2e
