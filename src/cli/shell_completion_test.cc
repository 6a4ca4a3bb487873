#include "cli/shell_completion.h"

#include <gtest/gtest.h>

#include <map>

#include "cli/file_commands.h"
#include "cli/job_commands.h"

namespace ferry {
namespace {

// Directories by the partial path that names them, as a lister sees them.
using Tree = std::map<std::string, std::vector<DirectoryName>>;

DirectoryLister FakeLister(Tree tree, std::vector<std::string>* asked = nullptr) {
  return [tree = std::move(tree),
          asked](const std::string& dir) -> Result<std::vector<DirectoryName>> {
    if (asked) asked->push_back(dir);
    auto it = tree.find(dir);
    if (it == tree.end()) return Status::NotFound("no such directory");
    return it->second;
  };
}

CompletionSources Sources() {
  CompletionSources s;
  s.commands = {"ls", "lls", "lcd", "lpwd", "get", "put", "cd", "help", "head"};
  s.list_remote = FakeLister({
      {"",
       {{"report-2026.txt", false},
        {"photos", true},
        {"my notes.txt", false},
        {"repo", true},
        {".hidden", false}}},
      {"photos/", {{"cat.jpg", false}, {"car.jpg", false}}},
  });
  s.list_local = FakeLister({{"", {{"upload.bin", false}, {"src", true}}}});
  return s;
}

TEST(ShellCompletionTest, FirstWordCompletesToACommand) {
  auto c = CompleteShellLine("pu", Sources());
  EXPECT_EQ(c.replace_bytes, 2u);
  EXPECT_EQ(c.insert, "put ");
  auto several = CompleteShellLine("l", Sources());
  EXPECT_EQ(several.insert, "");
  EXPECT_EQ(several.choices, (std::vector<std::string>{"lcd", "lls", "lpwd", "ls"}));
  auto shared = CompleteShellLine("he", Sources());  // help and head share only "he"
  EXPECT_EQ(shared.insert, "");
  EXPECT_EQ(shared.choices, (std::vector<std::string>{"head", "help"}));
  EXPECT_EQ(CompleteShellLine("hea", Sources()).insert, "head ");
}

TEST(ShellCompletionTest, RemoteFileCompletesWithASpaceDirectoryWithASlash) {
  auto common = CompleteShellLine("get rep", Sources());
  EXPECT_EQ(common.insert, "repo");  // what "report-2026.txt" and "repo/" share
  auto file = CompleteShellLine("get repo", Sources());
  EXPECT_EQ(file.choices, (std::vector<std::string>{"repo/", "report-2026.txt"}));
  auto unique = CompleteShellLine("get repor", Sources());
  EXPECT_EQ(unique.replace_bytes, 5u);
  EXPECT_EQ(unique.insert, "report-2026.txt ");
  auto dir = CompleteShellLine("cd pho", Sources());
  EXPECT_EQ(dir.insert, "photos/");
}

// sync marks its remote side with ':': after it, remote paths; else local.
TEST(ShellCompletionTest, SyncCompletesColonPathsRemotelyAndOthersLocally) {
  auto remote = CompleteShellLine("sync src :pho", Sources());
  EXPECT_EQ(remote.replace_bytes, 3u) << "the colon stays";
  EXPECT_EQ(remote.insert, "photos/");
  auto deeper = CompleteShellLine("sync :photos/cat", Sources());
  EXPECT_EQ(deeper.insert, "photos/cat.jpg ");
  auto local = CompleteShellLine("sync up", Sources());
  EXPECT_EQ(local.insert, "upload.bin ");
  auto second = CompleteShellLine("sync :repo s", Sources());
  EXPECT_EQ(second.insert, "src/");
  EXPECT_EQ(ArgumentKind({"sync", "--delete"}), PathKind::kSync);
}

TEST(ShellCompletionTest, ListsTheDirectoryPartAndKeepsIt) {
  std::vector<std::string> asked;
  CompletionSources s = Sources();
  s.list_remote = FakeLister({{"photos/", {{"cat.jpg", false}, {"car.jpg", false}}}}, &asked);
  auto c = CompleteShellLine("rm photos/c", s);
  EXPECT_EQ(asked, (std::vector<std::string>{"photos/"}));
  EXPECT_EQ(c.replace_bytes, 8u);
  EXPECT_EQ(c.insert, "photos/ca");
  auto choices = CompleteShellLine("rm photos/ca", s);
  EXPECT_EQ(choices.choices, (std::vector<std::string>{"car.jpg", "cat.jpg"}));
}

TEST(ShellCompletionTest, NamesWithSpacesAreEscapedAndQuotedInputIsReplaced) {
  auto c = CompleteShellLine("head my", Sources());
  EXPECT_EQ(c.insert, "my\\ notes.txt ");
  EXPECT_EQ(c.replace_bytes, 2u);
  auto quoted = CompleteShellLine("head \"my n", Sources());
  EXPECT_EQ(quoted.replace_bytes, 5u);  // the opening quote goes too
  EXPECT_EQ(quoted.insert, "my\\ notes.txt ");
}

TEST(ShellCompletionTest, HiddenNamesOnlyWhenAskedFor) {
  auto all = CompleteShellLine("ls ", Sources());
  for (const auto& c : all.choices) EXPECT_NE(c, ".hidden");
  EXPECT_EQ(CompleteShellLine("ls .h", Sources()).insert, ".hidden ");
}

TEST(ShellCompletionTest, PutCompletesLocalThenRemote) {
  EXPECT_EQ(CompleteShellLine("put up", Sources()).insert, "upload.bin ");
  EXPECT_EQ(CompleteShellLine("put -f up", Sources()).insert, "upload.bin ");
  EXPECT_EQ(CompleteShellLine("put upload.bin pho", Sources()).insert, "photos/");
  EXPECT_EQ(CompleteShellLine("get report-2026.txt sr", Sources()).insert, "src/");
  EXPECT_EQ(CompleteShellLine("lcd s", Sources()).insert, "src/");
  EXPECT_EQ(CompleteShellLine("put --limit-rate 1M up", Sources()).insert, "upload.bin ");
}

TEST(ShellCompletionTest, NothingForOptionsUnknownCommandsAndFailedListings) {
  EXPECT_EQ(CompleteShellLine("get -", Sources()).insert, "");
  EXPECT_EQ(CompleteShellLine("jobs --limit ", Sources()).insert, "");
  EXPECT_EQ(CompleteShellLine("frobnicate pho", Sources()).insert, "");
  auto failed = CompleteShellLine("ls nowhere/x", Sources());
  EXPECT_EQ(failed.insert, "");
  EXPECT_TRUE(failed.choices.empty());
}

TEST(ShellCompletionTest, OptionValuesHaveTheirOwnKind) {
  EXPECT_EQ(ArgumentKind({"zip", "photos", "--to"}), PathKind::kRemote);
  EXPECT_EQ(ArgumentKind({"encrypt", "--passphrase-file"}), PathKind::kLocal);
  EXPECT_EQ(ArgumentKind({"head", "-c"}), PathKind::kNone);
  EXPECT_EQ(ArgumentKind({"head", "-c", "10"}), PathKind::kRemote);
  EXPECT_EQ(ArgumentKind({"!ls"}), PathKind::kLocal);
}

TEST(ShellCompletionTest, EveryCompletedCommandExists) {
  CLI::App app;
  FileCommandEnv env;
  AddFileCommands(app, env);
  AddJobCommands(app, env);
  for (const auto& name : CommandsWithPathArguments()) {
    bool local = name == "cd" || name == "lcd" || name == "lls";
    bool remote = !app.get_subcommands([&](CLI::App* s) { return s->check_name(name); }).empty();
    EXPECT_TRUE(local || remote) << name;
  }
}

TEST(ShellCompletionTest, ChoicesFormatInColumnsDownFirst) {
  EXPECT_EQ(FormatChoices({"a", "bb", "c", "d"}, 8), "a   c\nbb  d\n");
  EXPECT_EQ(FormatChoices({"only"}, 2), "only\n");
}

}  // namespace
}  // namespace ferry
