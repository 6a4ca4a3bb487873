// `ferry fetch` against a real directory and several real `ferry peer`s on
// loopback: a file shared by three peers comes from all three and is
// byte-identical; a peer whose copy was altered behind its index is dropped
// at its first bad chunk while the download completes from the others; a
// fetcher killed mid-download and run again fetches no recorded chunk twice.
// Peers that fail mid-download (killed, stopped, their file overwritten) and
// a peer presenting a certificate other than the one it announced cost the
// fetch their chunks only: the file still arrives whole from the others.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <regex>
#include <thread>

#include "client/directory_client.h"
#include "net/tls_identity.h"
#include "net/trust.h"
#include "tests/e2e/attacker.h"
#include "tests/e2e/directory_harness.h"
#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const auto kStart = 30s * kSlowdown;
constexpr int64_t kMiB = 1 << 20;

// The chunks the done record `record` of a `size`-byte download marks done,
// and their bytes into *bytes; 0 while there is no record.
int64_t RecordedChunks(const std::string& record, int64_t size, int64_t* bytes = nullptr) {
  std::string text = ReadFile(record);
  auto nl = text.find('\n');
  int64_t n = 0;
  if (bytes) *bytes = 0;
  for (size_t i = nl == std::string::npos ? text.size() : nl + 1; i < text.size(); ++i) {
    if (text[i] != '1') continue;
    ++n;
    int64_t chunk = static_cast<int64_t>(i - nl - 1);
    if (bytes) *bytes += std::min(kMiB, size - chunk * kMiB);
  }
  return n;
}

// Overwrites `path` in place with other content (every byte inverted): same
// inode and size, as an editor saving over it would, with a new mtime.
void OverwriteInPlace(const std::string& path) {
  std::string data = ReadFile(path);
  for (char& c : data) c = static_cast<char>(~c);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  timespec now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(::futimens(fd, now), 0) << path;
  ::close(fd);
}

class FetchE2eTest : public ::testing::Test {
 protected:
  struct Peer {
    Child child;
    std::string log;
    std::string address;
  };

  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-e2e-fetch-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(Path("to"));
    directory_.Start(Path("directory"));
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_OK(RunFerry({"register", "--trust-new-server"}, Env("alice"), "", 60s));
    ASSERT_OK(RunFerry({"register"}, Env("bob"), "", 60s));
  }
  void TearDown() override {
    for (auto& p : peers_) {
      p.child.Signal(SIGCONT);  // a stopped peer handles SIGTERM only once resumed
      p.child.Signal(SIGTERM);
      p.child.Wait(30s);
    }
    directory_.Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Share(int peer, const std::string& name) const {
    return Path("share" + std::to_string(peer) + "/" + name);
  }
  ferry::e2e::Env Env(const std::string& user) const {
    return {{"XDG_CONFIG_HOME", Path("config")},
            {"FERRY_DIRECTORY", directory_.url()},
            {"FERRY_USER", user},
            {"FERRY_PASSWORD", user + "-password"}};
  }

  // Starts (or restarts) peer `i` on share<i>, and waits for its address.
  void StartPeer(size_t i, const std::vector<std::string>& extra = {}) {
    if (peers_.size() <= i) peers_.resize(i + 1);
    Peer& p = peers_[i];
    static int starts = 0;
    p.log = Path("peer" + std::to_string(i) + "-" + std::to_string(++starts) + ".log");
    std::vector<std::string> args = {"peer",
                                     "--share",
                                     Path("share" + std::to_string(i)),
                                     "--data",
                                     Path("peer-data" + std::to_string(i)),
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--ui-listen",
                                     "127.0.0.1:0",
                                     "--trust-new-server"};
    args.insert(args.end(), extra.begin(), extra.end());
    p.child = Child::Spawn(args, Env("alice"), "/dev/null", p.log);
    std::regex re(R"(announced as (127\.0\.0\.1:[0-9]+))");
    auto deadline = std::chrono::steady_clock::now() + kStart;
    while (std::chrono::steady_clock::now() < deadline && p.child.Running()) {
      std::smatch m;
      std::string text = ReadFile(p.log);
      if (std::regex_search(text, m, re)) {
        p.address = m[1].str();
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "peer " << i << " did not start:\n" << ReadFile(p.log);
  }
  void StopPeer(size_t i) {
    peers_[i].child.Signal(SIGTERM);
    ASSERT_EQ(peers_[i].child.Wait(30s), 0) << ReadFile(peers_[i].log);
  }

  // Peer `i`'s log once it holds `text` (a line logged after its address).
  std::string WaitForLog(size_t i, const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + kStart;
    std::string log = ReadFile(peers_[i].log);
    while (log.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      log = ReadFile(peers_[i].log);
    }
    EXPECT_NE(log.find(text), std::string::npos)
        << "peer " << i << " never logged '" << text << "':\n"
        << log;
    return log;
  }

  // Waits until `ferry search NAME` shows `peers` peers for the content.
  void WaitForSources(const std::string& name, const std::string& sha, size_t peers) {
    auto deadline = std::chrono::steady_clock::now() + kStart;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      RunResult r = RunFerry({"search", name, "--json"}, Env("bob"), "", 60s);
      last = r.out + r.err;
      if (r.exit_code == 0 && r.out.find(sha) != std::string::npos) {
        size_t n = 0;
        for (auto at = r.out.find("\"peer_id\""); at != std::string::npos;
             at = r.out.find("\"peer_id\"", at + 1)) {
          ++n;
        }
        if (n == peers) return;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "search never showed " << peers << " peers for " << name << ": " << last;
  }

  // The file every peer in `which` shares, aged so restarts trust the index.
  std::string ShareEverywhere(const std::string& name, size_t size, std::vector<int> which) {
    for (int i : which) {
      fs::create_directories(Path("share" + std::to_string(i)));
      WriteRandomFile(Share(i, name), size, 7);
      Age(Share(i, name));
    }
    return Sha256File(Share(which[0], name));
  }

  // Shares a `size`-byte `name` at the peers `which`, starts them with
  // `flags` and waits until a search shows them all; its SHA-256.
  std::string ServeEverywhere(const std::string& name, size_t size, std::vector<int> which,
                              const std::vector<std::string>& flags = {}) {
    std::string sha = ShareEverywhere(name, size, which);
    for (int i : which) {
      StartPeer(static_cast<size_t>(i), flags);
      if (HasFatalFailure()) return sha;
    }
    WaitForSources(name, sha, which.size());
    return sha;
  }

  RunResult Fetch(const std::string& name) {
    return RunFerry({"fetch", name, "--to", Path("to")}, Env("bob"), "", 120s * kSlowdown);
  }

  // `ferry fetch NAME` in the background, into the folder `to` (under the
  // test's folder); its output goes to `to`.out and `to`.err.
  Child StartFetch(const std::string& name, const std::string& to = "to") {
    return Child::Spawn({"fetch", name, "--to", Path(to)}, Env("bob"), Path(to + ".out"),
                        Path(to + ".err"));
  }
  // Waits for a fetch from StartFetch to end (-1: it did not).
  RunResult FinishFetch(Child& fetcher, const std::string& to = "to") {
    RunResult r;
    r.exit_code = fetcher.Wait(120s * kSlowdown).value_or(-1);
    r.out = ReadFile(Path(to + ".out"));
    r.err = ReadFile(Path(to + ".err"));
    return r;
  }
  // Waits while `fetcher` runs until the done record of the `size`-byte
  // `name` marks at least `chunks` chunks: bytes have moved, the fetch is on.
  void WaitUntilRecorded(Child& fetcher, const std::string& name, int64_t size, int64_t chunks) {
    const std::string record = Path("to/.ferry-" + name + ".part.done");
    auto deadline = std::chrono::steady_clock::now() + 60s * kSlowdown;
    while (std::chrono::steady_clock::now() < deadline && fetcher.Running()) {
      if (RecordedChunks(record, size) >= chunks) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "the fetch of " << name << " never recorded " << chunks << " chunks while running:\n"
           << ReadFile(Path("to.out")) << ReadFile(Path("to.err"));
  }

  // The bytes the summary line says came from `address`.
  static int64_t BytesFrom(const std::string& out, const std::string& address) {
    std::smatch m;
    std::regex re(std::regex_replace(address, std::regex(R"(\.)"), R"(\.)") + R"( ([0-9]+) bytes)");
    return std::regex_search(out, m, re) ? std::stoll(m[1].str()) : -1;
  }

  fs::path dir_;
  DirectoryProcess directory_;
  std::vector<Peer> peers_;
};

TEST_F(FetchE2eTest, AFileSharedByThreePeersComesFromAllThree) {
  const size_t size = 8 * kMiB + 4321;
  std::string sha = ShareEverywhere("film.mkv", size, {0, 1, 2});
  WriteFile(Share(0, "film-trailer.mkv"), "a trailer\n");
  Age(Share(0, "film-trailer.mkv"));
  for (size_t i = 0; i < 3; ++i) StartPeer(i);
  ASSERT_FALSE(HasFatalFailure());
  WaitForSources("film.mkv", sha, 3);
  WaitForSources("film-trailer.mkv", Sha256File(Share(0, "film-trailer.mkv")), 1);
  ASSERT_FALSE(HasFatalFailure());

  // A name that matches two files: a list to choose from, nothing fetched.
  RunResult several = Fetch("film");
  EXPECT_NE(several.exit_code, 0);
  EXPECT_NE(several.err.find("2 files match 'film'; choose one with --sha256"), std::string::npos)
      << several.err;
  EXPECT_NE(several.err.find(sha), std::string::npos) << several.err;
  RunResult none = Fetch("no-such-film");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("no online peer shares a file whose name contains 'no-such-film'"),
            std::string::npos)
      << none.err;

  RunResult r = Fetch("film.mkv");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/film.mkv")), sha);
  int64_t total = 0;
  for (const auto& p : peers_) {
    int64_t from = BytesFrom(r.out, p.address);
    EXPECT_GT(from, 0) << p.address << " served nothing: " << r.out;
    total += from;
  }
  EXPECT_EQ(total, static_cast<int64_t>(size)) << r.out;
  EXPECT_NE(r.out.find("peers dropped: none"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(Path("to/.ferry-film.mkv.part")));
  EXPECT_FALSE(fs::exists(Path("to/.ferry-film.mkv.part.done")));

  // Never over an existing file without --force.
  RunResult again = Fetch("film.mkv");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  RunResult forced =
      RunFerry({"fetch", "--sha256", sha, "--to", Path("to"), "--force"}, Env("bob"), "", 120s);
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
}

TEST_F(FetchE2eTest, APeerWithAnAlteredCopyIsDroppedAndTheFileStillArrivesWhole) {
  const size_t size = 8 * kMiB + 99;
  std::string sha = ServeEverywhere("disk.img", size, {0, 1, 2});
  ASSERT_FALSE(HasFatalFailure());
  // Altered while peer 1 is down, so it comes back trusting its index.
  StopPeer(1);
  AlterBehindTheIndex(Share(1, "disk.img"));
  ASSERT_NE(Sha256File(Share(1, "disk.img")), sha);
  StartPeer(1);
  ASSERT_FALSE(HasFatalFailure());
  const std::string indexed = WaitForLog(1, "indexed ");
  ASSERT_NE(indexed.find(": 0 hashed"), std::string::npos) << indexed;
  WaitForSources("disk.img", sha, 3);
  ASSERT_FALSE(HasFatalFailure());

  RunResult r = Fetch("disk.img");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/disk.img")), sha);
  const std::string bad = peers_[1].address;
  EXPECT_NE(r.out.find("peers dropped: " + bad + " (chunk "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("dropped peer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  EXPECT_EQ(BytesFrom(r.out, bad), 0) << r.out;
  // Every chunk of its copy is bad, and a peer gets one call until its first
  // chunk verifies: the first bad chunk ends that call and the peer, so
  // exactly one bad chunk is ever checked.
  size_t bad_chunks = 0;
  for (auto at = r.err.find("does not match its hash"); at != std::string::npos;
       at = r.err.find("does not match its hash", at + 1)) {
    ++bad_chunks;
  }
  EXPECT_EQ(bad_chunks, 1u) << r.err;
}

TEST_F(FetchE2eTest, AFetcherKilledMidwayResumesWithoutFetchingRecordedChunksAgain) {
  const int64_t size = 6 * kMiB + 1234;
  const int64_t chunks = 7;
  std::string sha =
      ServeEverywhere("slow.bin", static_cast<size_t>(size), {0}, {"--limit-rate", "1M"});
  ASSERT_FALSE(HasFatalFailure());

  Child fetcher = StartFetch("slow.bin");
  WaitUntilRecorded(fetcher, "slow.bin", size, 2);
  fetcher.Signal(SIGKILL);
  fetcher.Wait(10s);
  ASSERT_FALSE(HasFatalFailure());
  int64_t recorded_bytes = 0;
  const int64_t recorded =
      RecordedChunks(Path("to/.ferry-slow.bin.part.done"), size, &recorded_bytes);
  ASSERT_GE(recorded, 2) << ReadFile(Path("to.err"));
  ASSERT_LT(recorded, chunks) << "the first run was not stopped midway";
  ASSERT_FALSE(fs::exists(Path("to/slow.bin")));

  RunResult r = Fetch("slow.bin");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/slow.bin")), sha);
  EXPECT_NE(r.err.find("resuming 'slow.bin': " + std::to_string(recorded) + " of 7 chunks"),
            std::string::npos)
      << r.err;
  // One peer, so no endgame copies: the second run fetches exactly what the
  // record did not hold. What the first run fetched twice is then at most
  // what it had in flight or written but not yet recorded when it was killed
  // (requests_per_peer * chunks_per_request + record_every_chunks chunks).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(fetched ([0-9]+) bytes)"))) << r.out;
  EXPECT_EQ(std::stoll(m[1].str()), size - recorded_bytes) << r.out;
  EXPECT_NE(r.out.find("bytes resumed"), std::string::npos) << r.out;
}

TEST_F(FetchE2eTest, SigintStopsAFetchAtOnceKeepingEveryVerifiedChunk) {
  const int64_t size = 6 * kMiB + 1234;
  std::string sha =
      ServeEverywhere("slow.bin", static_cast<size_t>(size), {0}, {"--limit-rate", "1M"});
  ASSERT_FALSE(HasFatalFailure());

  Child fetcher = StartFetch("slow.bin");
  WaitUntilRecorded(fetcher, "slow.bin", size, 1);
  ASSERT_FALSE(HasFatalFailure());
  auto signalled = std::chrono::steady_clock::now();
  fetcher.Signal(SIGINT);
  RunResult stopped = FinishFetch(fetcher);
  // Calls in flight are cancelled, not finished at 1 MB/s.
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 5s * kSlowdown);
  EXPECT_EQ(stopped.exit_code, 1) << stopped.err;
  EXPECT_NE(stopped.err.find("received SIGINT"), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("ferry: CANCELLED: stopped with "), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("run it again to resume"), std::string::npos) << stopped.err;
  ASSERT_FALSE(fs::exists(Path("to/slow.bin")));
  int64_t recorded_bytes = 0;
  const int64_t recorded =
      RecordedChunks(Path("to/.ferry-slow.bin.part.done"), size, &recorded_bytes);
  ASSERT_GE(recorded, 1);
  ASSERT_LT(recorded, 7) << "the fetch was not stopped midway";
  // Everything it reported verified is in the record it left.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stopped.err, m, std::regex(R"(stopped with ([0-9]+) of)")))
      << stopped.err;
  EXPECT_EQ(std::stoll(m[1].str()), recorded_bytes) << stopped.err;

  RunResult r = Fetch("slow.bin");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/slow.bin")), sha);
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(fetched ([0-9]+) bytes)"))) << r.out;
  EXPECT_EQ(std::stoll(m[1].str()), size - recorded_bytes) << r.out;
}

TEST_F(FetchE2eTest, APeerKilledMidDownloadLosesItsChunksToTheOthers) {
  // 9 chunks, three peers at 1 MB/s each: about a second per chunk and peer,
  // so every peer still has chunks in flight when the first are recorded.
  const int64_t size = 8 * kMiB + 4321;
  std::string sha =
      ServeEverywhere("film.mkv", static_cast<size_t>(size), {0, 1, 2}, {"--limit-rate", "1M"});
  ASSERT_FALSE(HasFatalFailure());

  Child fetcher = StartFetch("film.mkv");
  WaitUntilRecorded(fetcher, "film.mkv", size, 1);
  ASSERT_FALSE(HasFatalFailure());
  peers_[1].child.Signal(SIGKILL);
  ASSERT_EQ(peers_[1].child.Wait(10s), 128 + SIGKILL);
  ASSERT_LT(RecordedChunks(Path("to/.ferry-film.mkv.part.done"), size), 9)
      << "the fetch was not midway when the peer was killed";

  RunResult r = FinishFetch(fetcher);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/film.mkv")), sha);
  const std::string killed = peers_[1].address;
  EXPECT_NE(r.out.find(killed + " (lost: "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("lost peer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(killed), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("dropped peer"), std::string::npos) << r.err;
  int64_t total = 0;
  for (const auto& p : peers_) total += BytesFrom(r.out, p.address);
  EXPECT_EQ(total, size) << r.out;
  EXPECT_LT(BytesFrom(r.out, killed), size) << r.out;
  EXPECT_GT(BytesFrom(r.out, peers_[0].address), 0) << r.out;
  EXPECT_GT(BytesFrom(r.out, peers_[2].address), 0) << r.out;
}

TEST_F(FetchE2eTest, AStalledPeerHoldsUpNothingPastTheEndgame) {
  const int64_t size = 8 * kMiB + 4321;
  std::string sha =
      ServeEverywhere("film.mkv", static_cast<size_t>(size), {0, 1, 2}, {"--limit-rate", "1M"});
  ASSERT_FALSE(HasFatalFailure());

  const auto start = std::chrono::steady_clock::now();
  Child fetcher = StartFetch("film.mkv");
  WaitUntilRecorded(fetcher, "film.mkv", size, 1);
  ASSERT_FALSE(HasFatalFailure());
  // Its connections stay open and its calls silent: only the endgame, not
  // the 30 s stall timeout, gets its chunks from the others in time.
  peers_[1].child.Signal(SIGSTOP);
  ASSERT_LT(RecordedChunks(Path("to/.ferry-film.mkv.part.done"), size), 9)
      << "the fetch was not midway when the peer was stopped";

  RunResult r = FinishFetch(fetcher);
  const auto took = std::chrono::steady_clock::now() - start;
  peers_[1].child.Signal(SIGCONT);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/film.mkv")), sha);
  EXPECT_LT(took, 20s) << r.out;
  // Not timed out as stalled either: the download ended first.
  EXPECT_NE(r.out.find("peers dropped: none"), std::string::npos) << r.out;
  int64_t total = 0;
  for (const auto& p : peers_) total += BytesFrom(r.out, p.address);
  EXPECT_EQ(total, size) << r.out;
  EXPECT_LT(BytesFrom(r.out, peers_[1].address), size) << r.out;
}

TEST_F(FetchE2eTest, APeerPresentingAnotherCertificateThanItAnnouncedIsNeverUsed) {
  const int64_t size = 4 * kMiB + 17;
  std::string sha = ShareEverywhere("disk.img", static_cast<size_t>(size), {0, 1, 2});
  StartPeer(0);
  StartPeer(1);
  ASSERT_FALSE(HasFatalFailure());
  // Peer 2 announces its own certificate at peer 1's address: whoever dials
  // that address for peer 2 meets peer 1's certificate.
  const std::string honest = peers_[1].address;
  StartPeer(2, {"--advertise", honest});
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(peers_[2].address, honest);
  WaitForSources("disk.img", sha, 3);
  ASSERT_FALSE(HasFatalFailure());
  std::smatch m;
  const std::string log = ReadFile(peers_[2].log);
  ASSERT_TRUE(std::regex_search(log, m, std::regex("announced peer ([0-9a-f]+) at"))) << log;
  const std::string impostor = m[1].str();

  RunResult r = Fetch("disk.img");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/disk.img")), sha);
  EXPECT_NE(r.err.find("not using peer " + impostor + " (" + honest + "): its certificate"),
            std::string::npos)
      << r.err;
  // It is no source at all: the summary names peer 1's address once, for
  // peer 1, and the two honest peers delivered every byte.
  size_t named = 0;
  for (auto at = r.out.find(honest + " "); at != std::string::npos;
       at = r.out.find(honest + " ", at + 1)) {
    ++named;
  }
  EXPECT_EQ(named, 1u) << r.out;
  EXPECT_EQ(BytesFrom(r.out, peers_[0].address) + BytesFrom(r.out, honest), size) << r.out;
  EXPECT_NE(r.out.find("peers dropped: none"), std::string::npos) << r.out;
}

TEST_F(FetchE2eTest, AFileOverwrittenWhileServedIsNotServedStale) {
  // 12 chunks for three peers at 512 KB/s each: each peer reads its first
  // four chunks at once and sends one about every two seconds, so every
  // peer is asked for more (endgame) two seconds in, after the overwrite.
  // --settle-ms holds off a rescan of the share for 10 s after the overwrite,
  // so the chunk service's own check must notice the change.
  const int64_t size = 11 * kMiB + 4321;
  std::string sha = ShareEverywhere("disk.img", static_cast<size_t>(size), {0, 1, 2});
  for (size_t i = 0; i < 3; ++i) {
    StartPeer(i, {"--limit-rate", "512K", "--settle-ms", "60000"});
  }
  ASSERT_FALSE(HasFatalFailure());
  WaitForSources("disk.img", sha, 3);
  ASSERT_FALSE(HasFatalFailure());

  Child fetcher = StartFetch("disk.img");
  WaitUntilRecorded(fetcher, "disk.img", size, 1);
  ASSERT_FALSE(HasFatalFailure());
  OverwriteInPlace(Share(1, "disk.img"));
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_LT(RecordedChunks(Path("to/.ferry-disk.img.part.done"), size), 12)
      << "the fetch was not midway when the file was overwritten";
  ASSERT_NE(Sha256File(Share(1, "disk.img")), sha);

  RunResult r = FinishFetch(fetcher);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/disk.img")), sha);
  // Peer 1 answered with an error, never with bytes of the new content.
  const std::string changed = peers_[1].address;
  EXPECT_NE(r.out.find(changed + " (lost: this peer does not share content " + sha + ")"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("does not match its hash"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("dropped peer"), std::string::npos) << r.err;
  EXPECT_NE(ReadFile(peers_[1].log).find("not serving 'disk.img'"), std::string::npos)
      << ReadFile(peers_[1].log);
  int64_t total = 0;
  for (const auto& p : peers_) total += BytesFrom(r.out, p.address);
  EXPECT_EQ(total, size) << r.out;
}

TEST_F(FetchE2eTest, ADownloadThatOutlastsItsTicketsRenewsThem) {
  // Tickets last 2 s; the download takes about 5 s at 1 MB/s. The serving
  // peer refuses a call with an expired ticket, so without renewal the peer
  // is lost after 2 s and the fetch fails with no peer left.
  directory_.Stop();
  directory_.Start(Path("directory"), {"--ticket-seconds", "2"});
  ASSERT_FALSE(HasFatalFailure());
  const size_t size = 5 * kMiB + 77;
  std::string sha = ServeEverywhere("long.iso", size, {0}, {"--limit-rate", "1M"});
  ASSERT_FALSE(HasFatalFailure());

  auto start = std::chrono::steady_clock::now();
  RunResult r = Fetch("long.iso");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GT(std::chrono::steady_clock::now() - start, 3s) << "the download outlasted no ticket";
  EXPECT_EQ(Sha256File(Path("to/long.iso")), sha);
  EXPECT_NE(r.out.find("peers dropped: none"), std::string::npos) << r.out;
  EXPECT_EQ(BytesFrom(r.out, peers_[0].address), static_cast<int64_t>(size)) << r.out;
}

// Anyone may connect to a peer's port. A flood of bare connections from one
// address, twice what the peer has descriptors for, neither stops the peer
// nor keeps a fetcher out, during the flood or after it.
TEST_F(FetchE2eTest, ABareConnectionFloodNeitherStopsAPeerNorKeepsFetchersOut) {
  if (kSanitizerBuild)
    GTEST_SKIP() << "4,000 connections are a load test; the normal build runs it";
  if (!AllowDescriptors(6000)) GTEST_SKIP() << "needs 6000 descriptors in this process";
  const size_t size = 2 * kMiB + 5;
  std::string sha = ServeEverywhere("flood.bin", size, {0});
  ASSERT_FALSE(HasFatalFailure());
  rlimit peer_limit{2048, 2048};
  ASSERT_EQ(prlimit(peers_[0].child.pid(), RLIMIT_NOFILE, &peer_limit, nullptr), 0);

  std::atomic<bool> stop{false};
  int ok = 0, failed = 0;
  std::string failures;
  std::thread fetcher([&] {
    while (!stop) {
      fs::remove(Path("to/flood.bin"));
      RunResult r = Fetch("flood.bin");
      if (r.exit_code == 0 && Sha256File(Path("to/flood.bin")) == sha) {
        ++ok;
      } else {
        ++failed;
        failures += r.out + r.err;
      }
    }
  });
  FloodResult flood = BareConnectionFlood(peers_[0].address, "127.0.0.2", 4000, 5s, 1s);
  stop = true;
  fetcher.join();
  EXPECT_GT(flood.opened, 2048) << "the flood did not outnumber the peer's descriptors";
  EXPECT_GT(ok, 0);
  EXPECT_EQ(failed, 0) << failures;

  ASSERT_TRUE(peers_[0].child.Running());
  fs::remove(Path("to/flood.bin"));
  RunResult r = Fetch("flood.bin");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Sha256File(Path("to/flood.bin")), sha);
}

TEST_F(FetchE2eTest, APeerAtItsMaximumOfUploadsIsAskedAgainNotLost) {
  // One peer that serves one upload at a time, slowly, and two fetchers at
  // once: the one turned away waits for the upload slot rather than
  // dropping its only peer and failing.
  const size_t size = 3 * kMiB + 9;
  std::string sha =
      ServeEverywhere("busy.bin", size, {0}, {"--max-uploads", "1", "--limit-rate", "2M"});
  ASSERT_FALSE(HasFatalFailure());
  fs::create_directories(Path("to2"));

  Child first = StartFetch("busy.bin", "to");
  Child second = StartFetch("busy.bin", "to2");
  RunResult a = FinishFetch(first, "to");
  RunResult b = FinishFetch(second, "to2");
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_EQ(Sha256File(Path("to/busy.bin")), sha);
  EXPECT_EQ(Sha256File(Path("to2/busy.bin")), sha);
  EXPECT_NE((a.err + b.err).find("is serving its maximum of uploads; asking it again"),
            std::string::npos)
      << a.err << b.err;
  EXPECT_NE(a.out.find("peers dropped: none"), std::string::npos) << a.out;
  EXPECT_NE(b.out.find("peers dropped: none"), std::string::npos) << b.out;
}

}  // namespace
}  // namespace ferry::e2e
