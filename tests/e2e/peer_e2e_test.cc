// `ferry peer` against a real `ferry directory` over HTTPS on loopback: what
// it shares becomes searchable, follows the share's changes, is not hashed
// again after a restart, and leaves the directory at once on SIGTERM.
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>
#include <functional>
#include <regex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "client/directory_client.h"
#include "core/sha256.h"
#include "ferry/v1/peer.grpc.pb.h"
#include "net/tls_identity.h"
#include "net/trust.h"
#include "tests/e2e/directory_harness.h"
#include "tests/e2e/harness.h"
#include "transfer/chunk_tree.h"
#include "transfer/grpc_tuning.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dirclient::DirectoryClient;

// Bounds on what must happen; generous, and longer in the sanitizer build.
const auto kStart = 30s * kSlowdown;
const auto kChange = 15s * kSlowdown;

const std::string kUser = "alice";
const std::string kPassword = "alice-password";

// Makes `path`'s mtime an hour old, so that the index does not take it for a
// file still in its racy window (it would check it again on a restart).
void Age(const std::string& path) {
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
  utimbuf times{st.st_atime, st.st_mtime - 3600};
  ASSERT_EQ(::utime(path.c_str(), &times), 0) << path;
}

class PeerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-e2e-peer-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(Path("share"));
    directory_.Start(Path("directory"));
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_OK(RunFerry({"register", "--trust-new-server"}, PeerEnv(), "", 60s));
    client_ = OpenDirectoryClient();
    ASSERT_NE(client_, nullptr);
    ASSERT_TRUE(client_->Login(kUser, kPassword).ok());
  }
  // A client of the test's directory, trusting its certificate; null on error.
  std::unique_ptr<DirectoryClient> OpenDirectoryClient() {
    dirclient::DirectoryClientOptions o;
    o.url = directory_.url();
    TrustedServer trusted;
    trusted.root_pem = ReadFile(Path("directory/tls/directory.crt"));
    trusted.target_name = kSelfSignedName;
    trusted.fingerprint = CertFingerprint(trusted.root_pem).value();
    auto c = DirectoryClient::OpenTrusted(o, trusted);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  void TearDown() override {
    if (peer_.Running()) StopPeer();
    directory_.Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Share(const std::string& name) const { return Path("share/" + name); }
  Env PeerEnv() const {
    return {{"XDG_CONFIG_HOME", Path("config")},
            {"FERRY_DIRECTORY", directory_.url()},
            {"FERRY_USER", kUser},
            {"FERRY_PASSWORD", kPassword}};
  }

  // Starts `ferry peer` on the share; its log goes to peer.log (appended to
  // by each start).
  void StartPeer() {
    ++starts_;
    log_ = Path("peer-" + std::to_string(starts_) + ".log");
    peer_ = Child::Spawn(
        {"peer", "--share", Path("share"), "--data", Path("peer-data"), "--listen", "127.0.0.1:0",
         "--ui-listen", "127.0.0.1:0", "--settle-ms", "200", "--trust-new-server"},
        PeerEnv(), "/dev/null", log_);
  }
  // SIGTERM, and the exit status.
  int StopPeer() {
    peer_.Signal(SIGTERM);
    auto code = peer_.Wait(30s);
    return code ? *code : -1;
  }
  std::string Log() const { return ReadFile(log_); }

  // Waits until the peer's log matches `pattern`; the match, or "" on timeout.
  std::string WaitForLog(const std::string& pattern, std::chrono::milliseconds timeout) {
    std::regex re(pattern);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string text = Log();
      if (std::regex_search(text, m, re)) return m[0].str();
      if (!peer_.Running()) break;
      std::this_thread::sleep_for(50ms);
    }
    return "";
  }

  std::vector<dirapi::SearchHit> Search(const std::string& text) {
    dirclient::SearchQuery q;
    q.text = text;
    auto hits = client_->Search(q);
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    return hits.ok() ? *hits : std::vector<dirapi::SearchHit>{};
  }
  // Polls the search for `text` until `done` holds of its hits.
  bool SearchUntil(const std::string& text,
                   const std::function<bool(const std::vector<dirapi::SearchHit>&)>& done,
                   std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done(Search(text))) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  // True once a search for `name` finds exactly the content `sha256`.
  bool Finds(const std::string& name, const std::string& sha256,
             std::chrono::milliseconds timeout) {
    return SearchUntil(
        name, [&](const auto& hits) { return hits.size() == 1 && hits[0].sha256 == sha256; },
        timeout);
  }
  size_t OnlinePeers() {
    auto peers = client_->Peers();
    EXPECT_TRUE(peers.ok()) << peers.status().ToString();
    return peers.ok() ? peers->size() : 999;
  }

  fs::path dir_;
  DirectoryProcess directory_;
  std::unique_ptr<DirectoryClient> client_;
  Child peer_;
  std::string log_;
  int starts_ = 0;
};

TEST_F(PeerE2eTest, SharedFilesBecomeSearchableAndFollowTheShare) {
  fs::create_directories(Share("music/live"));
  WriteRandomFile(Share("music/live/concert.ogg"), 3 << 20, 1);
  WriteFile(Share("notes.txt"), "some notes\n");
  WriteFile(Share(".ferry-half.ogg.part"), "a download in progress");
  StartPeer();
  ASSERT_TRUE(Finds("concert.ogg", Sha256File(Share("music/live/concert.ogg")), kStart)) << Log();
  ASSERT_TRUE(Finds("notes.txt", Sha256File(Share("notes.txt")), kChange)) << Log();
  EXPECT_TRUE(Search("half").empty()) << "the peer's own files are not shared";
  std::string fingerprint = CertFingerprint(ReadFile(Path("peer-data/tls/peer.crt"))).value();
  auto peers = client_->Peers();
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 1u);
  // Where its chunk service listens, on the port the system picked.
  std::string announced = WaitForLog(R"(announced as 127\.0\.0\.1:[0-9]+)", kStart);
  ASSERT_NE(announced, "") << Log();
  EXPECT_EQ((*peers)[0].address, announced.substr(std::string("announced as ").size()));
  EXPECT_EQ((*peers)[0].cert_sha256, fingerprint);
  auto files = client_->AllPeerFiles((*peers)[0].peer_id);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path, "music/live/concert.ogg");
  EXPECT_EQ((*files)[0].chunk_root.size(), 64u);
  EXPECT_NE(Log().find(FormatFingerprint(fingerprint)), std::string::npos) << Log();

  // Added, in a folder made after the peer started.
  fs::create_directories(Share("new/deeper"));
  WriteFile(Share("new/deeper/added.txt"), "first version\n");
  ASSERT_TRUE(Finds("added.txt", Sha256File(Share("new/deeper/added.txt")), kChange)) << Log();
  // Changed: the new content replaces the old.
  WriteFile(Share("new/deeper/added.txt"), "second, longer version\n");
  ASSERT_TRUE(Finds("added.txt", Sha256File(Share("new/deeper/added.txt")), kChange)) << Log();
  // Renamed.
  fs::rename(Share("notes.txt"), Share("new/renamed-notes.txt"));
  ASSERT_TRUE(SearchUntil(
      "notes.txt", [](const auto& h) { return h.size() == 1 && h[0].name == "renamed-notes.txt"; },
      kChange))
      << Log();
  // Deleted.
  fs::remove(Share("new/deeper/added.txt"));
  ASSERT_TRUE(SearchUntil(
      "added.txt", [](const auto& h) { return h.empty(); }, kChange))
      << Log();
  EXPECT_EQ(StopPeer(), 0) << Log();
}

TEST_F(PeerE2eTest, ARestartHashesNothingUnchangedAndSigtermWithdrawsAtOnce) {
  fs::create_directories(Share("a/b"));
  WriteRandomFile(Share("a/one.bin"), 2 << 20, 2);
  WriteRandomFile(Share("a/b/two.bin"), 1 << 20, 3);
  WriteFile(Share("three.txt"), "three\n");
  for (const char* f : {"a/one.bin", "a/b/two.bin", "three.txt"}) Age(Share(f));
  StartPeer();
  EXPECT_NE(
      WaitForLog(R"(indexed 3 files in [0-9.]+ s: 3 hashed \(3145734 bytes hashed\))", kStart), "")
      << Log();
  ASSERT_TRUE(Finds("two.bin", Sha256File(Share("a/b/two.bin")), kStart)) << Log();
  ASSERT_EQ(OnlinePeers(), 1u);

  // SIGTERM: gone from the directory as soon as the process has exited, long
  // before the directory would miss its heartbeats.
  EXPECT_EQ(StopPeer(), 0) << Log();
  EXPECT_EQ(OnlinePeers(), 0u) << Log();
  EXPECT_TRUE(Search("two.bin").empty());
  EXPECT_NE(Log().find("withdrew peer"), std::string::npos) << Log();

  StartPeer();
  EXPECT_NE(WaitForLog(R"(indexed 3 files in [0-9.]+ s: 0 hashed \(0 bytes hashed\), 3 unchanged)",
                       kStart),
            "")
      << Log();
  ASSERT_TRUE(Finds("one.bin", Sha256File(Share("a/one.bin")), kStart)) << Log();
  // The same certificate as before: made once, on the first start.
  EXPECT_NE(Log().find("using TLS certificate"), std::string::npos) << Log();
  EXPECT_EQ(StopPeer(), 0) << Log();
  EXPECT_EQ(OnlinePeers(), 0u) << Log();
}

// Another user fetches alice's file straight from her peer: the directory
// names the peer, its certificate and the chunk root, and issues a ticket for
// that peer; the peer serves chunks that check against the root, and takes
// neither a session token nor a made-up ticket.
TEST_F(PeerE2eTest, AnotherUserFetchesChunksWithATicketFromTheDirectory) {
  WriteRandomFile(Share("film.mkv"), (2 << 20) + 777, 5);
  const std::string sha = Sha256File(Share("film.mkv"));
  StartPeer();
  ASSERT_TRUE(Finds("film.mkv", sha, kStart)) << Log();

  Env bob_env = PeerEnv();
  bob_env["FERRY_USER"] = "bob";
  bob_env["FERRY_PASSWORD"] = "bob-password";
  ASSERT_OK(RunFerry({"register"}, bob_env, "", 60s));
  auto bob = OpenDirectoryClient();
  ASSERT_NE(bob, nullptr);
  auto bob_session = bob->Login("bob", "bob-password");
  ASSERT_TRUE(bob_session.ok()) << bob_session.status().ToString();

  auto sources = bob->Sources(sha);
  ASSERT_TRUE(sources.ok()) << sources.status().ToString();
  ASSERT_EQ(sources->size(), 1u);
  const dirapi::ContentSource& source = (*sources)[0];
  auto ticket = bob->IssueTicket(source.peer.peer_id);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();

  // Dial the peer pinned to the certificate the directory published.
  auto colon = source.peer.address.rfind(':');
  auto pem = FetchServerCertificate(source.peer.address.substr(0, colon),
                                    source.peer.address.substr(colon + 1), 5000);
  ASSERT_TRUE(pem.ok()) << pem.status().ToString();
  ASSERT_EQ(CertFingerprint(*pem).value(), source.peer.cert_sha256);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *pem;
  grpc::ChannelArguments args;
  TuneChannelForTransfers(args);
  args.SetSslTargetNameOverride(kSelfSignedName);
  auto stub = v1::Peer::NewStub(
      grpc::CreateCustomChannel(source.peer.address, grpc::SslCredentials(ssl), args));
  auto call = [&](const std::string& authorization) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", authorization);
    ctx->set_deadline(std::chrono::system_clock::now() + 30s * kSlowdown);
    return ctx;
  };

  v1::ManifestRequest want;
  want.set_sha256(sha);
  v1::Manifest manifest;
  grpc::Status got = stub->GetManifest(call("Ticket " + ticket->ticket).get(), want, &manifest);
  ASSERT_TRUE(got.ok()) << got.error_message() << "\n" << Log();
  std::vector<std::string> hashes(manifest.chunk_sha256().begin(), manifest.chunk_sha256().end());
  EXPECT_TRUE(VerifyChunkHashes(hashes, manifest.size(), source.chunk_root).ok());

  v1::ReadChunksRequest read;
  read.set_sha256(sha);
  read.set_first_chunk(0);
  read.set_chunk_count(static_cast<int>(hashes.size()));
  auto ctx = call("Ticket " + ticket->ticket);
  auto reader = stub->ReadChunks(ctx.get(), read);
  std::string bytes;
  v1::ChunkData chunk;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(Sha256::HexOf(chunk.data()), hashes.at(static_cast<size_t>(chunk.index())));
    bytes += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(Sha256::HexOf(bytes), sha);

  // Bob's session token is not a ticket, and a made-up ticket is not one the
  // directory vouches for.
  EXPECT_EQ(
      stub->GetManifest(call("Bearer " + bob_session->token).get(), want, &manifest).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      stub->GetManifest(call("Ticket " + std::string(64, '7')).get(), want, &manifest).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  // Content the peer does not share.
  want.set_sha256(std::string(64, '0'));
  EXPECT_EQ(stub->GetManifest(call("Ticket " + ticket->ticket).get(), want, &manifest).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(StopPeer(), 0) << Log();
}

TEST_F(PeerE2eTest, RefusesADataFolderInsideTheShare) {
  auto r =
      RunFerry({"peer", "--share", Path("share"), "--data", Share("data"), "--trust-new-server"},
               PeerEnv(), "", 60s);
  EXPECT_FAILS_WITH(r, "lies inside the share folder");
  EXPECT_FALSE(fs::exists(Share("data/tls/peer.key"))) << "a key was written into the share";
}

}  // namespace
}  // namespace ferry::e2e
