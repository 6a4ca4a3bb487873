// What the CLI says, and with which exit status, for the cases people ran
// into: --version, a failure of every kind as one "ferry: CODE: message" line,
// messages that name what is actually wrong, `ls` of several paths, and the
// summary lines of a resumed upload and of a job followed with --wait.
#include <openssl/crypto.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "client/progress.h"
#include "ferry/v1/jobs.grpc.pb.h"
#include "tests/e2e/harness.h"
#include "tests/support/pty.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CliMessagesTest : public E2eTest {
 protected:
  // Runs a client command on a terminal (so that progress bars are drawn),
  // as alice; the terminal's transcript holds stdout and stderr alike.
  int FerryOnPty(const std::vector<std::string>& args, std::string* transcript) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    for (const auto& [k, v] : ClientEnv("alice")) argv.push_back(k + "=" + v);
    argv.push_back(FERRY_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--trust-new-server");
    return testing::RunOnPty(argv, {}, transcript);
  }

  std::string Token() {
    grpc::Status s;
    std::string token =
        RawLogin(RawChannel(server_.address(), data_), "alice", passwords_["alice"], &s);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return token;
  }
};

// The lines a terminal shows, a carriage return starting a line over as a
// line feed does.
std::vector<std::string> ScreenLines(const std::string& transcript) {
  std::vector<std::string> lines;
  std::string line;
  for (char c : transcript) {
    if (c == '\r' || c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// The last screen line holding `text`, or "".
std::string LastLineWith(const std::string& transcript, const std::string& text) {
  std::string found;
  for (const auto& line : ScreenLines(transcript)) {
    if (line.find(text) != std::string::npos) found = line;
  }
  return found;
}

double UnitBytes(const std::string& unit) {
  if (unit == "KiB") return 1024.0;
  if (unit == "MiB") return 1024.0 * 1024;
  if (unit == "GiB") return 1024.0 * 1024 * 1024;
  return 1;
}

TEST_F(CliMessagesTest, VersionPrintsFerryGrpcAndOpenSslVersions) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, std::vector<std::string>{"version"}}) {
    auto r = RunFerry(args);
    ASSERT_OK(r);
    EXPECT_TRUE(std::regex_search(r.out, std::regex("^ferry [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << r.out;
    EXPECT_NE(r.out.find("gRPC " + grpc::Version()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(OpenSSL_version(OPENSSL_VERSION)), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST_F(CliMessagesTest, CommandLineErrorsFailWithOneFerryLine) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"frob"}, std::vector<std::string>{"ls", "--bogus"},
        std::vector<std::string>{}}) {
    auto r = RunFerry(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_TRUE(r.err.starts_with("ferry: INVALID_ARGUMENT: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_NE(RunFerry({"frob"}).err.find("unknown command 'frob'"), std::string::npos);
}

TEST_F(CliMessagesTest, HeadWithANegativeCountSaysTheCountIsNegative) {
  WriteFile(Path("f.txt"), "hello");
  ASSERT_OK(Ferry({"put", Path("f.txt"), "f.txt"}));
  auto r = Ferry({"head", "-c", "-5", "f.txt"});
  EXPECT_FAILS_WITH(r, "INVALID_ARGUMENT: a preview length cannot be negative");
  EXPECT_EQ(r.err.find("at most"), std::string::npos) << r.err;
  EXPECT_FAILS_WITH(Ferry({"head", "-c", "2000000", "f.txt"}),
                    "a preview is at most 1048576 bytes (2000000 asked for)");
}

TEST_F(CliMessagesTest, DownloadOfANegativeLengthSaysTheLengthIsNegative) {
  WriteFile(Path("f.txt"), "hello");
  ASSERT_OK(Ferry({"put", Path("f.txt"), "f.txt"}));
  auto files = v1::Files::NewStub(RawChannel(server_.address(), data_));
  v1::DownloadRequest req;
  req.set_path("f.txt");
  req.set_length(-1);
  auto ctx = RawContext(Token());
  auto reader = files->Download(ctx.get(), req);
  v1::DownloadChunk chunk;
  while (reader->Read(&chunk)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("length is negative"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find("starts at"), std::string::npos) << s.error_message();
}

TEST_F(CliMessagesTest, PathsThatAreNotUtf8AreInvalidArgumentNamingTheName) {
  const std::string bad =
      "bad\xff"
      "name";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"ls", bad}, std::vector<std::string>{"touch", bad},
        std::vector<std::string>{"mkdir", "ok/" + bad}}) {
    auto r = Ferry(args);
    EXPECT_FAILS_WITH(r, "INVALID_ARGUMENT: name 'bad\\x{ff}name' is not valid UTF-8");
    EXPECT_EQ(r.err.find("INTERNAL"), std::string::npos) << r.err;
  }
  // An upload names the remote path it could not take.
  WriteFile(Path("f.txt"), "hello");
  EXPECT_FAILS_WITH(Ferry({"put", Path("f.txt"), bad}), "is not valid UTF-8");
  // A name put in a home by other means reaches the client, which shows it
  // escaped, and a download of the tree refuses it by name.
  WriteFile(HomePath("alice", std::string("disk\xfe") + "name"), "x");
  auto listed = Ferry({"ls"});
  ASSERT_OK(listed);
  EXPECT_NE(listed.out.find("disk\\x{fe}name"), std::string::npos) << listed.out;
  EXPECT_FAILS_WITH(Ferry({"get", "-r", "", Path("tree")}),
                    "INVALID_ARGUMENT: get -r wrote nothing: 1 name is not safe to write here: "
                    "'disk\\x{fe}name' (the first: name 'disk\\x{fe}name' is not valid UTF-8");

  // Below the CLI: the server itself answers INVALID_ARGUMENT, never INTERNAL,
  // whichever field carries the bytes.
  auto channel = RawChannel(server_.address(), data_);
  auto files = v1::Files::NewStub(channel);
  std::string token = Token();
  {
    v1::StatRequest req;
    req.set_path(bad);
    v1::StatResponse resp;
    grpc::Status s = files->Stat(RawContext(token).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  }
  {
    v1::RenameRequest req;
    req.set_from("f.txt");
    req.set_to(bad);
    v1::Empty resp;
    grpc::Status s = files->Rename(RawContext(token).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  }
  {
    auto jobs = v1::Jobs::NewStub(channel);
    v1::SubmitJobRequest req;
    req.set_kind(v1::JOB_KIND_ZIP);
    req.add_paths(bad);
    v1::Job resp;
    grpc::Status s = jobs->Submit(RawContext(token).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  }
  {
    // A login with such a name is a wrong name, like any other.
    grpc::Status s;
    RawLogin(channel, "alice\xff", "alice-password", &s);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
}

TEST_F(CliMessagesTest, UserNamesStartingWithADashAreRefusedSayingWhy) {
  const std::string data = Path("other-data");
  auto r = RunFerry({"user", "add", "-x", "--data", data, "--password-stdin"}, {}, "password-1\n");
  EXPECT_FAILS_WITH(r,
                    "'-x' is not an option of this command, and '-x' is not a valid user "
                    "name: a user name starts with a letter or digit");
  EXPECT_FALSE(fs::exists(data)) << "a refused command made the data directory";
  r = RunFerry({"user", "add", "--data", data, "--password-stdin", "--", "-x"}, {}, "password-1\n");
  EXPECT_FAILS_WITH(r, "INVALID_ARGUMENT: '-x' is not a valid user name");
  EXPECT_FAILS_WITH(RunFerry({"user", "del", "-bob", "--data", data_}),
                    "'-bob' is not a valid user name");
  EXPECT_FAILS_WITH(RunFerry({"user", "add", "--data", data}), "give a user name");
  // A client told to log in as one says so instead of "wrong user name or password".
  r = Ferry({"ls", "--user", "-x"});
  EXPECT_FAILS_WITH(r, "INVALID_ARGUMENT: '-x' is not a valid user name");
}

TEST_F(CliMessagesTest, LsOfSeveralPathsListsEachUnderItsHeader) {
  WriteFile(Path("f.txt"), "hello");
  ASSERT_OK(Ferry({"mkdir", "a", "b"}));
  ASSERT_OK(Ferry({"put", Path("f.txt"), "a/x"}));
  ASSERT_OK(Ferry({"put", Path("f.txt"), "a/y"}));
  ASSERT_OK(Ferry({"put", Path("f.txt"), "b/z"}));
  ASSERT_OK(Ferry({"put", Path("f.txt"), "top.txt"}));
  auto r = Ferry({"ls", "a", "b"});
  ASSERT_OK(r);
  EXPECT_EQ(r.out, "a:\nx\ny\n\nb:\nz\n");
  // Files given by name come first, as given, then the directories.
  r = Ferry({"ls", "a", "top.txt"});
  ASSERT_OK(r);
  EXPECT_EQ(r.out, "top.txt\n\na:\nx\ny\n");
  // One directory: its entries alone, as before.
  r = Ferry({"ls", "b"});
  ASSERT_OK(r);
  EXPECT_EQ(r.out, "z\n");
}

// Run on a terminal, a resumed upload ends with a summary that counts the bytes
// of this run only: what the server already held is not credited to its rate.
TEST_F(CliMessagesTest, ResumedUploadSummaryCountsOnlyThisRunsBytes) {
  const int64_t kSize = 8 * 1024 * 1024;
  WriteRandomFile(Path("big.bin"), kSize, 21);
  ASSERT_OK(Ferry({"ls"}));  // pin the certificate
  std::vector<std::string> first = {"put",           "--limit-rate", "4M",
                                    Path("big.bin"), "big.bin",      "--trust-new-server"};
  Child put = Child::Spawn(first, ClientEnv("alice"), Path("put.out"), Path("put.err"));
  auto held = [&]() -> int64_t {
    std::error_code ec;
    for (auto& e : fs::recursive_directory_iterator(data_ + "/uploads", ec)) {
      if (e.path().extension() == ".part") return static_cast<int64_t>(fs::file_size(e.path()));
    }
    return 0;
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (held() < 3 * 1024 * 1024 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  put.Signal(SIGKILL);
  put.Wait(10s);
  ASSERT_GE(held(), 3 * 1024 * 1024);

  std::string screen;
  ASSERT_EQ(FerryOnPty({"put", "--limit-rate", "4M", Path("big.bin"), "big.bin"}, &screen), 0)
      << screen;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(screen, m, std::regex("resuming upload of 'big.bin' at byte ([0-9]+)")))
      << screen;
  const int64_t this_run = kSize - std::stoll(m[1].str());
  ASSERT_GT(this_run, 0);
  ASSERT_LT(this_run, kSize);
  std::string summary = LastLineWith(screen, "100%");
  ASSERT_TRUE(std::regex_search(
      summary, m,
      std::regex("100% +8\\.0 MiB \\(([0-9.]+ [KMG]?i?B) this run\\) in ([0-9.]+)s, "
                 "([0-9.]+) ([KMG]?i?B)/s")))
      << summary;
  EXPECT_EQ(m[1].str(), HumanBytes(static_cast<double>(this_run))) << summary;
  // The rate is this run's bytes over this run's time, to the rounding of
  // what is printed (the time to 0.1 s, the rate to 0.1 of its unit).
  double seconds = std::stod(m[2].str());
  double rate = std::stod(m[3].str()) * UnitBytes(m[4].str());
  ASSERT_GE(seconds, 0.5) << summary;  // limited to 4 MiB/s
  EXPECT_LE(rate * (seconds - 0.05), static_cast<double>(this_run) * 1.05) << summary;
  EXPECT_GE(rate * (seconds + 0.05), static_cast<double>(this_run) * 0.95) << summary;
  EXPECT_EQ(Sha256File(HomePath("alice", "big.bin")), Sha256File(Path("big.bin")));
}

// `zip --wait` on a terminal follows the job with a bar whose last line gives
// the job's time on the server and no transfer rate: no bytes moved here.
TEST_F(CliMessagesTest, ZipWaitEndsWithTheJobsTimeAndNoRate) {
  WriteRandomFile(Path("some.bin"), 256 * 1024, 22);
  ASSERT_OK(Ferry({"put", Path("some.bin"), "some.bin"}));
  std::string screen;
  ASSERT_EQ(FerryOnPty({"zip", "--wait", "some.bin"}, &screen), 0) << screen;
  std::string last = LastLineWith(screen, "100%");
  EXPECT_TRUE(std::regex_search(last, std::regex("^zip [0-9a-f]{8} +\\[#+\\] 100% +256\\.0 KiB "
                                                 "in [0-9]+\\.[0-9]s *$")))
      << last;
  EXPECT_EQ(last.find("/s"), std::string::npos) << last;
  EXPECT_NE(screen.find("some.bin.zip"), std::string::npos) << screen;
}

}  // namespace
}  // namespace ferry::e2e
