// Attacks and access control against a real server: traversal, symlinks, bad
// names, other users' homes, tokens, password guessing, certificate changes.
#include <filesystem>
#include <thread>

#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SecurityTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    AddUser("bob", "bob-password");
    fs::create_directories(HomePath("bob", ""));
    WriteFile(HomePath("bob", "private.txt"), "bob's secret");
    WriteFile(dir_ + "/outside.txt", "outside the data dir");
  }

  // Everything below dir_ except alice's home, with contents, to prove nothing changed.
  std::map<std::string, std::string> Snapshot() {
    std::map<std::string, std::string> out;
    for (auto& e : fs::recursive_directory_iterator(dir_)) {
      std::string p = e.path().string();
      if (p.rfind(data_ + "/files/alice", 0) == 0 || p.find("ferry.db") != std::string::npos ||
          p.find("/logs/") != std::string::npos || p.find("server-stderr") != std::string::npos ||
          p.find("/uploads/") != std::string::npos || p.rfind(config_, 0) == 0) {
        continue;
      }
      out[p] = e.is_regular_file() ? ReadFile(p) : "<dir>";
    }
    return out;
  }
};

TEST_F(SecurityTest, TraversalAndBadNamesAreRefusedAndChangeNothing) {
  WriteFile(Path("payload"), "payload");
  ASSERT_OK(Ferry({"touch", "mine.txt"}));
  auto before = Snapshot();
  const std::vector<std::string> bad_paths = {
      "../bob/private.txt",
      "../../outside.txt",
      "/etc/passwd",
      "a/../../bob",
      "../../../../../../etc/passwd",
      "./../bob",
      "docs/../../x",
      std::string("ctl\x01name"),
      "new\nline",
      std::string(300, 'n'),
      "esc\x1b[2Jape",
      "/",
  };
  for (const auto& p : bad_paths) {
    SCOPED_TRACE(p);
    for (const std::vector<std::string>& cmd :
         std::vector<std::vector<std::string>>{{"ls", p},
                                               {"stat", p},
                                               {"head", p},
                                               {"get", p, Path("got")},
                                               {"put", Path("payload"), p},
                                               {"mkdir", "-p", p},
                                               {"touch", p},
                                               {"rm", "-r", p},
                                               {"mv", "mine.txt", p},
                                               {"mv", p, "stolen"}}) {
      auto r = Ferry(cmd);
      EXPECT_NE(r.exit_code, 0) << cmd[0];
      bool refused = r.err.find("INVALID_ARGUMENT") != std::string::npos ||
                     r.err.find("PERMISSION_DENIED") != std::string::npos;
      EXPECT_TRUE(refused) << cmd[0] << ": " << r.err;
      EXPECT_EQ(r.err.find("bob's secret"), std::string::npos);
    }
  }
  EXPECT_EQ(Snapshot(), before);
  EXPECT_FALSE(fs::exists(Path("got")));
  EXPECT_TRUE(fs::exists(HomePath("alice", "mine.txt")));
}

TEST_F(SecurityTest, NulBytesOverTheWireAreRefused) {
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status s;
  std::string token = RawLogin(channel, "alice", "alice-password", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto files = v1::Files::NewStub(channel);
  v1::StatRequest req;
  req.set_path(std::string("mine\0/../../bob/private.txt", 27));
  v1::StatResponse resp;
  auto ctx = RawContext(token);
  s = files->Stat(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("NUL"), std::string::npos) << s.error_message();
}

TEST_F(SecurityTest, SymlinksLeadingOutAreNeverFollowedNorRevealed) {
  fs::create_directories(HomePath("alice", ""));
  fs::create_symlink(HomePath("bob", ""), HomePath("alice", "to-bob"));
  fs::create_symlink(HomePath("bob", "private.txt"), HomePath("alice", "secret-link"));
  fs::create_symlink(HomePath("bob", "no-such-file"), HomePath("alice", "dangling-link"));
  fs::create_symlink("/etc", HomePath("alice", "etc"));
  WriteFile(Path("payload"), "payload");
  auto before = Snapshot();
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"ls", "to-bob"},
                                             {"get", "to-bob/private.txt", Path("x")},
                                             {"head", "secret-link"},
                                             {"get", "secret-link", Path("y")},
                                             {"ls", "etc"},
                                             {"head", "etc/passwd"},
                                             {"put", Path("payload"), "to-bob/planted.txt"},
                                             {"mkdir", "-p", "to-bob/newdir"},
                                             {"touch", "to-bob/touched"},
                                             {"mv", "to-bob/private.txt", "mine.txt"}}) {
    auto r = Ferry(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd[0] << " " << cmd[1];
    EXPECT_EQ(r.out.find("bob's secret"), std::string::npos);
    EXPECT_NE(r.err.find("PERMISSION_DENIED"), std::string::npos) << cmd[0] << ": " << r.err;
  }
  EXPECT_EQ(Snapshot(), before);
  // stat describes the link itself and hashes nothing behind it.
  auto st = Ferry({"stat", "--sha256", "secret-link"});
  ASSERT_OK(st);
  EXPECT_NE(st.out.find("type:  symlink"), std::string::npos) << st.out;
  EXPECT_EQ(st.out.find("sha256"), std::string::npos) << st.out;
  // A link to an existing and to a missing file outside give the same answer.
  auto existing = Ferry({"head", "secret-link"});
  auto missing = Ferry({"head", "dangling-link"});
  EXPECT_EQ(existing.exit_code, missing.exit_code);
  auto strip = [](std::string s, const std::string& name) {
    return s.replace(s.find(name), name.size(), "NAME");
  };
  EXPECT_EQ(strip(existing.err, "secret-link"), strip(missing.err, "dangling-link"));
  // The listing shows a link as a link, without following it.
  auto ls = Ferry({"ls", "-l"});
  ASSERT_OK(ls);
  EXPECT_NE(ls.out.find("l0777"), std::string::npos) << ls.out;
}

TEST_F(SecurityTest, UsersAreIsolated) {
  WriteFile(Path("a.txt"), "alice data");
  ASSERT_OK(Ferry({"put", Path("a.txt"), "a.txt"}));
  auto bob_ls = Ferry({"ls"}, "bob");
  ASSERT_OK(bob_ls);
  EXPECT_EQ(bob_ls.out, "private.txt\n");
  EXPECT_FAILS_WITH(Ferry({"get", "a.txt", Path("b-got")}, "bob"), "NOT_FOUND");
  auto alice_ls = Ferry({"ls"});
  ASSERT_OK(alice_ls);
  EXPECT_EQ(alice_ls.out, "a.txt\n");
  // Same names in two homes are two files.
  WriteFile(Path("bob-a.txt"), "bob data");
  ASSERT_OK(Ferry({"put", Path("bob-a.txt"), "a.txt"}, "bob"));
  EXPECT_EQ(ReadFile(HomePath("alice", "a.txt")), "alice data");
  EXPECT_EQ(ReadFile(HomePath("bob", "a.txt")), "bob data");
}

TEST_F(SecurityTest, WrongPasswordsAndUnknownUsersGetTheSameAnswer) {
  passwords_["alice"] = "wrong-password";
  auto wrong = Ferry({"ls"});
  passwords_["nobody"] = "whatever-password";
  auto unknown = Ferry({"ls"}, "nobody");
  EXPECT_FAILS_WITH(wrong, "UNAUTHENTICATED: wrong user name or password");
  EXPECT_FAILS_WITH(unknown, "UNAUTHENTICATED: wrong user name or password");
  // Nothing in the database or the log holds a password in clear.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ReadFile(data_ + "/ferry.db").find("alice-password"), std::string::npos);
  EXPECT_EQ(ReadFile(data_ + "/logs/server.log").find("wrong-password"), std::string::npos);
  EXPECT_EQ(server_.log().find("wrong-password"), std::string::npos);
}

TEST_F(SecurityTest, TokensAreCheckedOnEveryCall) {
  auto channel = RawChannel(server_.address(), data_);
  auto files = v1::Files::NewStub(channel);
  v1::StatRequest req;
  v1::StatResponse resp;
  auto no_token = files->Stat(RawContext("").get(), req, &resp);
  EXPECT_EQ(no_token.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto forged = files->Stat(RawContext(std::string(64, 'a')).get(), req, &resp);
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  grpc::Status s;
  std::string token = RawLogin(channel, "alice", "alice-password", &s);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(files->Stat(RawContext(token).get(), req, &resp).ok());
  auto auth = v1::Auth::NewStub(channel);
  v1::LogoutResponse out;
  ASSERT_TRUE(auth->Logout(RawContext(token).get(), v1::LogoutRequest(), &out).ok());
  auto after = files->Stat(RawContext(token).get(), req, &resp);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, RepeatedWrongPasswordsSlowDownAndAreLogged) {
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status s;
  for (int i = 0; i < 3; ++i) {
    RawLogin(channel, "alice", "bad-guess-" + std::to_string(i), &s);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << i;
  }
  // Now even the right password must wait, from this address.
  RawLogin(channel, "alice", "alice-password", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("too many failed logins from 127.0.0.1"), std::string::npos)
      << s.error_message();
  // After the 1 s delay another wrong guess is answered, and the delay doubles.
  std::this_thread::sleep_for(1100ms);
  RawLogin(channel, "alice", "bad-guess-3", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::this_thread::sleep_for(1100ms);
  RawLogin(channel, "alice", "alice-password", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << "the delay should now be 2 s";
  std::this_thread::sleep_for(1000ms);
  RawLogin(channel, "alice", "alice-password", &s);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(server_.log().find("failed login for user 'alice'"), std::string::npos);
}

TEST_F(SecurityTest, ChangedServerCertificateIsRefusedLoudly) {
  ASSERT_OK(Ferry({"ls"}));  // pins the certificate
  std::string known = ReadFile(config_ + "/ferry/known_servers");
  EXPECT_NE(known.find(server_.address()), std::string::npos) << known;
  // A new identity on the same address, as an impostor would present.
  std::string address = server_.address();
  server_.Stop(SIGKILL);
  fs::remove_all(data_ + "/tls");
  server_.Start(data_, {}, address);
  auto r = Ferry({"ls"});
  EXPECT_FAILS_WITH(r, "CERTIFICATE HAS CHANGED");
  EXPECT_NE(r.err.find("Refusing to connect"), std::string::npos);
  // Without --trust-new-server a new server is not trusted silently either.
  fs::remove(config_ + "/ferry/known_servers");
  auto untrusted = RunFerry({"ls"}, ClientEnv("alice"));
  EXPECT_FAILS_WITH(untrusted, "is not known");
}

}  // namespace
}  // namespace ferry::e2e

namespace ferry::e2e {
namespace {

TEST_F(SecurityTest, DeletingAUserEndsTheirLiveSessionAndTheHomeStaysGone) {
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status s;
  std::string token = RawLogin(channel, "bob", "bob-password", &s);
  ASSERT_TRUE(s.ok());
  auto files = v1::Files::NewStub(channel);
  v1::StatRequest req;
  v1::StatResponse resp;
  ASSERT_TRUE(files->Stat(RawContext(token).get(), req, &resp).ok());
  auto del = RunFerry({"user", "del", "bob", "--remove-home", "--data", data_});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_FALSE(fs::exists(HomePath("bob", "")));
  // Sessions re-check their account every 5 s.
  std::this_thread::sleep_for(5500ms);
  auto after = files->Stat(RawContext(token).get(), req, &resp);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::UNAUTHENTICATED) << after.error_message();
  EXPECT_FALSE(fs::exists(HomePath("bob", ""))) << "a removed home must not come back";
}

TEST_F(SecurityTest, ChangingAPasswordEndsSessionsMadeWithTheOldOne) {
  auto channel = RawChannel(server_.address(), data_);
  grpc::Status s;
  std::string token = RawLogin(channel, "bob", "bob-password", &s);
  ASSERT_TRUE(s.ok());
  auto r = RunFerry({"user", "passwd", "bob", "--data", data_, "--password-stdin"}, {},
                    "new-bob-password\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(5500ms);
  auto files = v1::Files::NewStub(channel);
  v1::StatRequest req;
  v1::StatResponse resp;
  EXPECT_EQ(files->Stat(RawContext(token).get(), req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  passwords_["bob"] = "new-bob-password";
  EXPECT_OK(Ferry({"ls"}, "bob"));
}

}  // namespace
}  // namespace ferry::e2e
