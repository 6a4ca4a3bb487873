// `ferry register`, `ferry search` and `ferry peers` against a real
// `ferry directory`, over HTTPS (pinned on first use, or --ca-cert) and plain
// HTTP. Peers are announced straight through the client library, as the peer
// daemon will.
#include <filesystem>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "client/directory_client.h"
#include "net/tls_identity.h"
#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dirclient::DirectoryClient;

const std::string kSongSha(64, 'a');
const std::string kNotesSha(64, 'b');

class DirectoryCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ferry-e2e-dircli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    StopDirectory();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Starts `ferry directory` with its data in `data` (under the test's
  // directory) and waits until it listens; url_ is where.
  void StartDirectory(const std::string& data, const std::vector<std::string>& extra = {},
                      const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> args = {"directory", "--listen", listen, "--data", Path(data)};
    args.insert(args.end(), extra.begin(), extra.end());
    log_ = Path(data + ".log");
    directory_ = Child::Spawn(args, {}, "/dev/null", log_);
    static const std::regex kListening("listening on (https?://[^ ]+:[0-9]+) ");
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string text = ReadFile(log_);
      if (std::regex_search(text, m, kListening)) {
        url_ = m[1].str();
        return;
      }
      if (!directory_.Running()) break;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "ferry directory did not start; its log:\n" << ReadFile(log_);
  }
  void StopDirectory() {
    directory_.Signal(SIGTERM);
    directory_.Wait(30s);
  }
  int Port() const { return std::stoi(url_.substr(url_.rfind(':') + 1)); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs a client command as `user` with the password in FERRY_PASSWORD.
  RunResult Ferry(const std::vector<std::string>& args, const std::string& user = "alice",
                  const std::string& password = "alice-password", const std::string& input = "") {
    Env env = {{"XDG_CONFIG_HOME", Path("config")}, {"FERRY_DIRECTORY", url_}};
    if (!user.empty()) env["FERRY_USER"] = user;
    if (!password.empty()) env["FERRY_PASSWORD"] = password;
    return RunFerry(args, env, input, 60s);
  }

  // A logged-in library client that trusts the directory's own certificate.
  std::unique_ptr<DirectoryClient> Client(const std::string& data, const std::string& user,
                                          const std::string& password) {
    dirclient::DirectoryClientOptions o;
    o.url = url_;
    TrustedServer trusted;
    if (url_.starts_with("https://")) {
      trusted.root_pem = ReadFile(Path(data + "/tls/directory.crt"));
      trusted.target_name = kSelfSignedName;
      trusted.fingerprint = CertFingerprint(trusted.root_pem).value();
    }
    auto c = DirectoryClient::OpenTrusted(o, trusted);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    auto login = (*c)->Login(user, password);
    EXPECT_TRUE(login.ok()) << login.status().ToString();
    return std::move(c).value();
  }

  std::string Announce(DirectoryClient& c, const std::string& address,
                       std::vector<dirapi::SharedFile> files) {
    dirapi::Announcement a;
    a.address = address;
    a.cert_sha256 = std::string(64, 'c');
    a.files = std::move(files);
    auto lease = c.Announce(a);
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    return lease.ok() ? lease->peer_id : "";
  }

  fs::path dir_;
  Child directory_;
  std::string log_;
  std::string url_;
};

TEST_F(DirectoryCliTest, RegisterThenFindWhatPeersShare) {
  StartDirectory("data");
  // A directory never seen before is not trusted without being told.
  EXPECT_FAILS_WITH(Ferry({"register", "--password-stdin"}, "alice", "", "alice-password\n"),
                    "--trust-new-server");
  auto reg = Ferry({"register", "--password-stdin", "--trust-new-server"}, "alice", "",
                   "alice-password\n");
  ASSERT_OK(reg);
  EXPECT_NE(reg.out.find("registered 'alice' at " + url_), std::string::npos) << reg.out;
  // Pinned now; the name is taken.
  EXPECT_FAILS_WITH(Ferry({"register", "--password-stdin"}, "alice", "", "other-password\n"),
                    "ALREADY_EXISTS");
  ASSERT_OK(Ferry({"register"}, "bob", "bob-password"));  // FERRY_PASSWORD works too

  // No peer and no hit are answers, not failures: a line on stdout, exit 0.
  auto none = Ferry({"peers"});
  ASSERT_OK(none);
  EXPECT_EQ(none.out, "no peer is online\n");
  EXPECT_EQ(none.err, "");
  auto no_hit = Ferry({"search", "x"});
  ASSERT_OK(no_hit);
  EXPECT_EQ(no_hit.out, "no online peer shares a file whose name contains 'x'\n");
  EXPECT_EQ(no_hit.err, "");

  auto alice = Client("data", "alice", "alice-password");
  auto bob = Client("data", "bob", "bob-password");
  ASSERT_TRUE(alice && bob);
  std::string p1 =
      Announce(*alice, "203.0.113.7:7443",
               {{"music/Song.ogg", 5301234, kSongSha, 1, ""}, {"notes.txt", 12, kNotesSha, 2, ""}});
  std::string p2 =
      Announce(*bob, "[2001:db8::1]:7443", {{"copy/song.ogg", 5301234, kSongSha, 3, ""}});

  auto search = Ferry({"search", "SONG"}, "bob", "bob-password");
  ASSERT_OK(search);
  EXPECT_NE(search.out.find("NAME"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find("Song.ogg"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find("song.ogg"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find("203.0.113.7:7443"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find("[2001:db8::1]:7443"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find(kSongSha.substr(0, 12)), std::string::npos) << search.out;
  EXPECT_EQ(search.out.find("notes.txt"), std::string::npos) << search.out;

  auto by_hash = Ferry({"search", "--sha256", kNotesSha, "--json"});
  ASSERT_OK(by_hash);
  auto hits = nlohmann::json::parse(by_hash.out);
  ASSERT_EQ(hits.size(), 1u) << by_hash.out;
  EXPECT_EQ(hits[0]["name"], "notes.txt");
  EXPECT_EQ(hits[0]["size"], 12);
  ASSERT_EQ(hits[0]["peers"].size(), 1u);
  EXPECT_EQ(hits[0]["peers"][0]["peer_id"], p1);
  EXPECT_EQ(hits[0]["peers"][0]["address"], "203.0.113.7:7443");

  auto limited = Ferry({"search", "song", "--json", "--limit", "1"});
  ASSERT_OK(limited);
  EXPECT_EQ(nlohmann::json::parse(limited.out).size(), 1u) << limited.out;
  auto nothing = Ferry({"search", "no-such-file", "--json"});
  ASSERT_OK(nothing);
  EXPECT_EQ(nlohmann::json::parse(nothing.out), nlohmann::json::array());

  auto peers = Ferry({"peers"});
  ASSERT_OK(peers);
  EXPECT_NE(peers.out.find(p1), std::string::npos) << peers.out;
  EXPECT_NE(peers.out.find(p2), std::string::npos) << peers.out;
  EXPECT_NE(peers.out.find("bob"), std::string::npos) << peers.out;
  EXPECT_EQ(peers.out.find("music/Song.ogg"), std::string::npos) << peers.out;

  auto with_files = Ferry({"peers", "--files"});
  ASSERT_OK(with_files);
  EXPECT_NE(with_files.out.find("music/Song.ogg"), std::string::npos) << with_files.out;
  EXPECT_NE(with_files.out.find("copy/song.ogg"), std::string::npos) << with_files.out;

  auto as_json = Ferry({"peers", "--files", "--json"});
  ASSERT_OK(as_json);
  auto list = nlohmann::json::parse(as_json.out);
  ASSERT_EQ(list.size(), 2u) << as_json.out;
  for (const auto& p : list) {
    if (p["peer_id"] == p1) {
      EXPECT_EQ(p["username"], "alice");
      EXPECT_EQ(p["files"], 2);
      ASSERT_EQ(p["shared"].size(), 2u);
      EXPECT_EQ(p["shared"][0]["path"], "music/Song.ogg");
    }
  }

  // A peer that leaves is gone from every answer.
  ASSERT_TRUE(alice->RemovePeer(p1).ok());
  auto after = Ferry({"search", "song", "--json"});
  ASSERT_OK(after);
  auto left = nlohmann::json::parse(after.out);
  ASSERT_EQ(left.size(), 1u) << after.out;
  EXPECT_EQ(left[0]["peers"][0]["peer_id"], p2);
}

TEST_F(DirectoryCliTest, BadCredentialsAndBadInputFailWithOneLine) {
  StartDirectory("data");
  ASSERT_OK(Ferry({"register", "--trust-new-server"}));
  EXPECT_FAILS_WITH(Ferry({"search"}), "give either TEXT or --sha256 HEX");
  EXPECT_FAILS_WITH(Ferry({"search", "x", "--sha256", kSongSha}), "either TEXT or --sha256");
  EXPECT_FAILS_WITH(Ferry({"search", "--sha256", "abc"}), "not a SHA-256");
  EXPECT_FAILS_WITH(Ferry({"register"}, "Bad Name!", "good-password"), "INVALID_ARGUMENT");
  // No terminal and no password anywhere: told how to give one.
  EXPECT_FAILS_WITH(Ferry({"peers"}, "alice", ""), "FERRY_PASSWORD");

  auto r = Ferry({"peers"}, "alice", "wrong-password");
  EXPECT_FAILS_WITH(r, "UNAUTHENTICATED");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // Failed logins slow down; the directory says for how long.
  r = Ferry({"peers"}, "nobody", "whatever-password");
  if (r.err.find("RESOURCE_EXHAUSTED") != std::string::npos) {
    EXPECT_NE(r.err.find("retry after"), std::string::npos) << r.err;
    std::this_thread::sleep_for(2s);
    r = Ferry({"peers"}, "nobody", "whatever-password");
  }
  EXPECT_FAILS_WITH(r, "UNAUTHENTICATED");
}

TEST_F(DirectoryCliTest, PlainHttpBehindAProxy) {
  StartDirectory("data", {"--plain-http"});
  ASSERT_TRUE(url_.starts_with("http://")) << url_;
  ASSERT_OK(Ferry({"register"}));
  auto alice = Client("data", "alice", "alice-password");
  ASSERT_TRUE(alice);
  Announce(*alice, "127.0.0.1:7443", {{"a/report.pdf", 1000, kNotesSha, 1, ""}});
  auto search = Ferry({"search", "report"});
  ASSERT_OK(search);
  EXPECT_NE(search.out.find("report.pdf"), std::string::npos) << search.out;
  // https to a plain directory says what to do.
  auto wrong = RunFerry(
      {"peers", "--trust-new-server", "--directory", "https://127.0.0.1:" + std::to_string(Port())},
      {{"XDG_CONFIG_HOME", Path("config")},
       {"FERRY_USER", "alice"},
       {"FERRY_PASSWORD", "alice-password"}});
  EXPECT_FAILS_WITH(wrong, "TLS handshake");
}

// What a fetcher asks before it connects: which online peers have a
// content, and the chunk root each announced, through a real directory.
TEST_F(DirectoryCliTest, SourcesNameTheOnlinePeersOfAContentWithTheirChunkRoots) {
  StartDirectory("data");
  ASSERT_OK(Ferry({"register", "--trust-new-server"}));
  ASSERT_OK(Ferry({"register"}, "bob", "bob-password"));
  auto alice = Client("data", "alice", "alice-password");
  auto bob = Client("data", "bob", "bob-password");
  ASSERT_TRUE(alice && bob);
  const std::string root(64, 'e');
  std::string a = Announce(*alice, "127.0.0.2:7443", {{"film.mkv", 5301234, kSongSha, 1, root}});
  std::string b = Announce(*bob, "127.0.0.3:7443", {{"copy.mkv", 5301234, kSongSha, 2, ""}});
  ASSERT_FALSE(a.empty() || b.empty());

  auto sources = alice->Sources(kSongSha);
  ASSERT_TRUE(sources.ok()) << sources.status().ToString();
  ASSERT_EQ(sources->size(), 2u);
  const auto& by_alice = (*sources)[(*sources)[0].peer.peer_id == a ? 0 : 1];
  const auto& by_bob = (*sources)[(*sources)[0].peer.peer_id == a ? 1 : 0];
  EXPECT_EQ(by_alice.peer.peer_id, a);
  EXPECT_EQ(by_alice.peer.address, "127.0.0.2:7443");
  EXPECT_EQ(by_alice.size, 5301234);
  EXPECT_EQ(by_alice.chunk_root, root);
  EXPECT_EQ(by_bob.peer.peer_id, b);
  EXPECT_EQ(by_bob.chunk_root, "");
  // The same root comes back with the peer's files.
  auto files = bob->PeerFiles(a);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].chunk_root, root);
  // Nobody has it, or the hash is not one.
  auto nobody = alice->Sources(std::string(64, '0'));
  ASSERT_TRUE(nobody.ok());
  EXPECT_TRUE(nobody->empty());
  EXPECT_EQ(alice->Sources("abc").status().code(), Code::kInvalidArgument);
}

// Alice's peer serves; bob, fetching, gets a ticket for it and shows that
// instead of his token; alice's peer learns from the directory that the
// fetcher is bob. The ticket is worth nothing anywhere else: not to carol's
// peer, not as a token, and not once it expires.
TEST_F(DirectoryCliTest, ATicketTellsTheServingPeerWhoFetchesAndNothingMore) {
  StartDirectory("data", {"--ticket-seconds", "2"});
  ASSERT_OK(Ferry({"register", "--trust-new-server"}));
  ASSERT_OK(Ferry({"register"}, "bob", "bob-password"));
  ASSERT_OK(Ferry({"register"}, "carol", "carol-password"));
  auto alice = Client("data", "alice", "alice-password");
  auto bob = Client("data", "bob", "bob-password");
  auto carol = Client("data", "carol", "carol-password");
  ASSERT_TRUE(alice && bob && carol);
  std::string alices_peer =
      Announce(*alice, "127.0.0.2:7443", {{"film.mkv", 5301234, kSongSha, 1, ""}});
  std::string carols_peer = Announce(*carol, "127.0.0.3:7443", {});
  ASSERT_FALSE(alices_peer.empty() || carols_peer.empty());

  auto ticket = bob->IssueTicket(alices_peer);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  EXPECT_EQ(ticket->peer_id, alices_peer);
  EXPECT_NE(ticket->ticket, bob->token());
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  EXPECT_LE(ticket->expires_at, now + 3);

  auto holder = alice->CheckTicket(alices_peer, ticket->ticket);
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  EXPECT_EQ(holder->username, "bob");
  EXPECT_EQ(holder->expires_at, ticket->expires_at);

  // Carol's peer was not the one it was issued for, nor is alice's peer hers.
  auto at_carols = carol->CheckTicket(carols_peer, ticket->ticket);
  EXPECT_EQ(at_carols.status().code(), Code::kPermissionDenied) << at_carols.status().ToString();
  EXPECT_EQ(carol->CheckTicket(alices_peer, ticket->ticket).status().code(),
            Code::kPermissionDenied);
  // Replayed to the directory as a token, it is no token.
  auto replay = Client("data", "carol", "carol-password");
  ASSERT_TRUE(replay);
  replay->set_token(ticket->ticket);
  EXPECT_EQ(replay->Verify().status().code(), Code::kUnauthenticated);
  EXPECT_EQ(replay->IssueTicket(alices_peer).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(replay->Sources(kSongSha).status().code(), Code::kUnauthenticated);
  // Nor is a token a ticket.
  EXPECT_EQ(alice->CheckTicket(alices_peer, bob->token()).status().code(), Code::kPermissionDenied);
  // An offline peer gets no ticket.
  EXPECT_EQ(bob->IssueTicket(std::string(32, '0')).status().code(), Code::kNotFound);

  // Expired after --ticket-seconds.
  std::this_thread::sleep_for(2100ms);
  auto expired = alice->CheckTicket(alices_peer, ticket->ticket);
  EXPECT_EQ(expired.status().code(), Code::kPermissionDenied) << expired.status().ToString();
  // A fresh one works again.
  auto fresh = bob->IssueTicket(alices_peer);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_TRUE(alice->CheckTicket(alices_peer, fresh->ticket).ok());
}

TEST_F(DirectoryCliTest, ACaCertificateInsteadOfPinning) {
  StartDirectory("data");
  std::string ca = Path("data/tls/directory.crt");
  ASSERT_OK(Ferry({"register", "--ca-cert", ca}));
  ASSERT_OK(Ferry({"peers", "--ca-cert", ca}));
  // Nothing was pinned on the way.
  EXPECT_FALSE(fs::exists(Path("config/ferry/known_servers")) &&
               ReadFile(Path("config/ferry/known_servers")).find(url_.substr(8)) !=
                   std::string::npos);
  // A CA that did not sign the directory's certificate is refused.
  bool created = false;
  ASSERT_TRUE(LoadOrCreateSelfSigned(Path("other.crt"), Path("other.key"), &created).ok());
  EXPECT_FAILS_WITH(Ferry({"peers", "--ca-cert", Path("other.crt")}), "not trusted");
}

TEST_F(DirectoryCliTest, AChangedCertificateIsRefused) {
  StartDirectory("first");
  ASSERT_OK(Ferry({"register", "--trust-new-server"}));
  int port = Port();
  StopDirectory();
  // Another directory (another certificate) on the same address.
  StartDirectory("second", {}, "127.0.0.1:" + std::to_string(port));
  auto r = Ferry({"register", "--trust-new-server"});
  EXPECT_FAILS_WITH(r, "CERTIFICATE HAS CHANGED");
}

TEST_F(DirectoryCliTest, AnUnreachableDirectoryIsNamed) {
  url_ = "http://127.0.0.1:1";
  EXPECT_FAILS_WITH(Ferry({"peers"}), "cannot reach the directory at http://127.0.0.1:1");
  url_ = "ftp://x";
  EXPECT_FAILS_WITH(Ferry({"peers"}), "unknown scheme");
}

}  // namespace
}  // namespace ferry::e2e
