// `ferry shell` as a person uses it, on a pseudo-terminal: line editing,
// history kept across sessions, TAB completion of commands and of remote and
// local paths, the local commands and the job commands; and as a script uses
// it, with commands piped in.
#include <sys/stat.h>

#include <filesystem>

#include "tests/e2e/harness.h"
#include "tests/support/pty.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Generous for the sanitizer build; every wait ends as soon as its text shows.
constexpr auto kWait = 20s;
constexpr const char* kPrompt = "ferry:/> ";
constexpr const char* kUp = "\x1b[A";
constexpr const char* kLeft = "\x1b[D";
constexpr const char* kCtrlA = "\x01";
constexpr const char* kCtrlD = "\x04";
constexpr const char* kBackspace = "\x7f";

class ShellE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    fs::create_directories(Path("home"));
    fs::create_directories(Path("local/subdir-abc"));
    WriteFile(Path("local/upload-me.txt"), "uploaded from the shell");
    ASSERT_OK(Ferry({"mkdir", "-p", "photos/albums"}));
    WriteFile(Path("seed.txt"), "the report");
    ASSERT_OK(Ferry({"put", Path("seed.txt"), "report-2026.txt"}));
    WriteFile(Path("cat.txt"), "a cat");
    ASSERT_OK(Ferry({"put", Path("cat.txt"), "photos/cat.txt"}));
  }

  // `ferry shell` on a terminal, as alice, in the local directory "local",
  // with its home and state directories in the test's directory.
  std::unique_ptr<testing::PtySession> StartShell() {
    std::vector<std::string> argv = {"/usr/bin/env", "-C", Path("local")};
    Env env = ClientEnv("alice");
    env["HOME"] = Path("home");
    env["XDG_STATE_HOME"] = Path("state");
    env["TERM"] = "xterm";
    env["SHELL"] = "/bin/sh";
    for (const auto& [k, v] : env) argv.push_back(k + "=" + v);
    argv.insert(argv.end(), {FERRY_BINARY, "shell", "--trust-new-server"});
    auto shell = std::make_unique<testing::PtySession>(argv);
    EXPECT_GT(shell->pid(), 0);
    return shell;
  }

  // Ctrl-D at the prompt ends the shell with the last command's status.
  void Quit(testing::PtySession& shell, int expected_status) {
    shell.Type(kCtrlD);
    EXPECT_EQ(shell.Wait(kWait), expected_status) << shell.transcript();
  }

  // The shell's local directory as getcwd names it.
  std::string LocalDir() const { return fs::canonical(Path("local")).string(); }

  // Waits for `text`; on failure, says what the terminal showed.
  void Expect(testing::PtySession& shell, const std::string& text) {
    ASSERT_TRUE(shell.WaitFor(text, kWait)) << "waited for: " << text << "\nthe terminal showed:\n"
                                            << shell.transcript();
  }
};

TEST_F(ShellE2eTest, EditsTheLineBeforeRunningIt) {
  auto shell = StartShell();
  Expect(*shell, kPrompt);
  // "lx", Backspace, "s": ls.
  shell->Type(std::string("lx") + kBackspace + "s\r");
  Expect(*shell, "photos/");
  Expect(*shell, kPrompt);
  // Ctrl-A, then the missing first letter: "stat ...".
  shell->Type(std::string("tat report-2026.txt") + kCtrlA + "s\r");
  Expect(*shell, "type:  file");
  Expect(*shell, kPrompt);
  // Left, then the letter that was left out: "lpwd".
  shell->Type(std::string("lpd") + kLeft + "w\r");
  Expect(*shell, LocalDir() + "\r\n");
  Expect(*shell, kPrompt);
  Quit(*shell, 0);
}

TEST_F(ShellE2eTest, HistoryRecallsCommandsAcrossSessions) {
  {
    auto shell = StartShell();
    Expect(*shell, kPrompt);
    shell->Type("stat report-2026.txt\r");
    Expect(*shell, "type:  file");
    Expect(*shell, kPrompt);
    shell->Type(std::string(kUp) + "\r");  // the same command again
    Expect(*shell, "type:  file");
    Expect(*shell, kPrompt);
    Quit(*shell, 0);
  }
  std::string history = Path("state/ferry/shell_history");
  struct stat st {};
  ASSERT_EQ(::stat(history.c_str(), &st), 0) << history;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string saved = ReadFile(history);
  EXPECT_NE(saved.find("report-2026.txt"), std::string::npos) << saved;

  auto shell = StartShell();
  Expect(*shell, kPrompt);
  shell->Type(std::string(kUp) + "\r");  // the last session's command
  Expect(*shell, "type:  file");
  Expect(*shell, kPrompt);
  Quit(*shell, 0);
}

TEST_F(ShellE2eTest, TabCompletesCommandsAndRemoteAndLocalPaths) {
  auto shell = StartShell();
  Expect(*shell, kPrompt);
  // A remote file: the whole name, then downloaded under it.
  shell->Type("get rep\t\r");
  Expect(*shell, kPrompt);
  EXPECT_EQ(ReadFile(Path("local/report-2026.txt")), "the report");
  // A remote directory, then the shell is in it.
  shell->Type("cd pho\t\r");
  Expect(*shell, "ferry:/photos> ");
  shell->Type("pwd\r");
  Expect(*shell, "/photos\r\n");
  Expect(*shell, "ferry:/photos> ");
  // put's first argument is local, its second remote (here: photos/albums/).
  shell->Type("put uplo\talb\t\r");
  Expect(*shell, "ferry:/photos> ");
  shell->Type("cd ..\r");
  Expect(*shell, kPrompt);
  // A local directory for lcd; a command for the first word.
  shell->Type("lcd subd\t\r");
  Expect(*shell, kPrompt);
  shell->Type("lpw\t\r");
  Expect(*shell, LocalDir() + "/subdir-abc\r\n");
  Expect(*shell, kPrompt);
  Quit(*shell, 0);
  EXPECT_EQ(ReadFile(HomePath("alice", "photos/albums/upload-me.txt")), "uploaded from the shell")
      << shell->transcript();
}

TEST_F(ShellE2eTest, LocalCommandsRunInTheLocalDirectory) {
  auto shell = StartShell();
  Expect(*shell, kPrompt);
  shell->Type("lpwd\r");
  Expect(*shell, LocalDir() + "\r\n");
  Expect(*shell, kPrompt);
  shell->Type("lls\r");
  Expect(*shell, "upload-me.txt");
  Expect(*shell, kPrompt);
  shell->Type("!echo hi-$((40+2))\r");
  Expect(*shell, "hi-42");
  Expect(*shell, kPrompt);
  shell->Type("help\r");
  Expect(*shell, "lpwd");
  Expect(*shell, kPrompt);
  Quit(*shell, 0);
}

TEST_F(ShellE2eTest, JobCommandsRunOverTheShellsConnection) {
  auto shell = StartShell();
  Expect(*shell, kPrompt);
  shell->Type("zip --wait photos\r");
  Expect(*shell, "photos.zip");
  Expect(*shell, kPrompt);
  shell->Type("jobs\r");
  Expect(*shell, "done");
  Expect(*shell, kPrompt);
  Quit(*shell, 0);
  EXPECT_TRUE(fs::exists(HomePath("alice", "photos.zip"))) << shell->transcript();
}

TEST_F(ShellE2eTest, UnknownCommandSaysSoAndTheShellGoesOn) {
  auto shell = StartShell();
  Expect(*shell, kPrompt);
  shell->Type("frobnicate now\r");
  Expect(*shell, "ferry: INVALID_ARGUMENT: unknown command 'frobnicate'; try help");
  Expect(*shell, kPrompt);
  Quit(*shell, 1);  // the last command failed
}

TEST_F(ShellE2eTest, PipedCommandsGetNoPromptAndNoEscapes) {
  auto r = Ferry({"shell"}, "alice", "ls\nunknownword\n");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("report-2026.txt"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ferry:/"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("ferry: INVALID_ARGUMENT: unknown command 'unknownword'; try help\n"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace ferry::e2e
