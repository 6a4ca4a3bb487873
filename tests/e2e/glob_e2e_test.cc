// Wildcards in remote paths, expanded by the server, through the real CLI.
#include <filesystem>

#include "tests/e2e/harness.h"

namespace ferry::e2e {
namespace {

namespace fs = std::filesystem;

class GlobTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    fs::create_directories(HomePath("alice", "docs/old"));
    fs::create_directories(HomePath("alice", "archive"));
    for (const char* name :
         {"docs/a.pdf", "docs/b.pdf", "docs/my report.pdf", "docs/notes.txt", "docs/.hidden.pdf",
          "docs/star*.pdf", "docs/[draft].txt", "docs/old/c.pdf"}) {
      WriteFile(HomePath("alice", name), std::string("content of ") + name);
    }
  }
};

TEST_F(GlobTest, LsAndStatShowWhatAPatternMatches) {
  auto ls = Ferry({"ls", "docs/*.pdf"});
  ASSERT_OK(ls);
  EXPECT_EQ(ls.out, "docs/a.pdf\ndocs/b.pdf\ndocs/my report.pdf\ndocs/star*.pdf\n");
  // A directory among the matches is listed under its name, as ls does (hidden
  // names included: only the pattern leaves them out).
  auto dirs = Ferry({"ls", "d*"});
  ASSERT_OK(dirs);
  EXPECT_EQ(
      dirs.out,
      "docs:\n.hidden.pdf\n[draft].txt\na.pdf\nb.pdf\nmy report.pdf\nnotes.txt\nold/\nstar*.pdf\n");
  auto st = Ferry({"stat", "docs/?.pdf"});
  ASSERT_OK(st);
  EXPECT_NE(st.out.find("path:  docs/a.pdf"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("path:  docs/b.pdf"), std::string::npos) << st.out;
  EXPECT_FAILS_WITH(Ferry({"ls", "docs/*.doc"}), "NOT_FOUND: no match for '/docs/*.doc'");
}

TEST_F(GlobTest, EscapesAndExactNamesKeepALiteralName) {
  // A backslash keeps the star literal: only the file named so.
  auto one = Ferry({"stat", "docs/star\\*.pdf"});
  ASSERT_OK(one);
  EXPECT_NE(one.out.find("path:  docs/star\\*.pdf"), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("a.pdf"), std::string::npos) << one.out;
  // "[draft]" matches one letter; nothing does, so the exact name is meant.
  auto draft = Ferry({"get", "docs/[draft].txt", Path("draft.txt")});
  ASSERT_OK(draft);
  EXPECT_EQ(ReadFile(Path("draft.txt")), "content of docs/[draft].txt");
  // A name with a space, matched by a pattern.
  ASSERT_OK(Ferry({"get", "docs/my*", Path("mine.pdf")}));
  EXPECT_EQ(ReadFile(Path("mine.pdf")), "content of docs/my report.pdf");
}

TEST_F(GlobTest, GetOfSeveralMatchesFillsALocalDirectory) {
  fs::create_directories(Path("out"));
  ASSERT_OK(Ferry({"get", "docs/*.pdf", Path("out")}));
  for (const char* name : {"a.pdf", "b.pdf", "my report.pdf", "star*.pdf"}) {
    EXPECT_EQ(ReadFile(Path("out/") + name), std::string("content of docs/") + name) << name;
  }
  EXPECT_FALSE(fs::exists(Path("out/.hidden.pdf"))) << "* leaves hidden files out";
  EXPECT_FALSE(fs::exists(Path("out/notes.txt")));
  // Several matches need a directory to land in.
  EXPECT_FAILS_WITH(Ferry({"get", "docs/*.pdf", Path("single.pdf")}),
                    "INVALID_ARGUMENT: 'docs/*.pdf' matches 4 names; give a local directory");
  EXPECT_FALSE(fs::exists(Path("single.pdf")));
  // A directory among them needs -r; with it, the tree comes too.
  fs::create_directories(Path("trees"));
  EXPECT_FAILS_WITH(Ferry({"get", "docs/*", Path("trees")}),
                    "FAILED_PRECONDITION: 'docs/old' is a directory (use get -r)");
  EXPECT_TRUE(fs::is_empty(Path("trees"))) << "refused before anything is fetched";
  ASSERT_OK(Ferry({"get", "-r", "docs/o*", Path("trees")}));
  EXPECT_EQ(ReadFile(Path("trees/old/c.pdf")), "content of docs/old/c.pdf");
}

TEST_F(GlobTest, RmAndMvActOnEveryMatchOrOnNone) {
  ASSERT_OK(Ferry({"mv", "docs/?.pdf", "archive"}));
  EXPECT_TRUE(fs::exists(HomePath("alice", "archive/a.pdf")));
  EXPECT_TRUE(fs::exists(HomePath("alice", "archive/b.pdf")));
  EXPECT_FALSE(fs::exists(HomePath("alice", "docs/a.pdf")));
  // Several sources into something that is not a directory: nothing moves.
  EXPECT_FAILS_WITH(Ferry({"mv", "archive/*", "docs/notes.txt"}),
                    "moving 2 names needs a directory to move them into");
  EXPECT_TRUE(fs::exists(HomePath("alice", "archive/a.pdf")));
  // Plain several sources work too.
  ASSERT_OK(Ferry({"mv", "archive/a.pdf", "archive/b.pdf", "docs"}));
  EXPECT_TRUE(fs::exists(HomePath("alice", "docs/a.pdf")));

  // One argument without a match fails the whole rm before anything is removed.
  EXPECT_FAILS_WITH(Ferry({"rm", "docs/*.pdf", "docs/*.doc"}), "no match for '/docs/*.doc'");
  EXPECT_TRUE(fs::exists(HomePath("alice", "docs/a.pdf")));
  ASSERT_OK(Ferry({"rm", "docs/*.pdf"}));
  for (const char* gone : {"docs/a.pdf", "docs/b.pdf", "docs/my report.pdf", "docs/star*.pdf"}) {
    EXPECT_FALSE(fs::exists(HomePath("alice", gone))) << gone;
  }
  EXPECT_TRUE(fs::exists(HomePath("alice", "docs/.hidden.pdf")));
  EXPECT_TRUE(fs::exists(HomePath("alice", "docs/notes.txt")));
  EXPECT_TRUE(fs::exists(HomePath("alice", "docs/old/c.pdf")));
}

TEST_F(GlobTest, PatternsStayInTheHome) {
  AddUser("bob", "bob-password-1234");
  fs::create_directories(HomePath("bob", ""));
  WriteFile(HomePath("bob", "secret.pdf"), "bob's");
  fs::create_directory_symlink(HomePath("bob", ""), HomePath("alice", "to-bob"));
  EXPECT_FAILS_WITH(Ferry({"ls", "../*"}), "INVALID_ARGUMENT");
  EXPECT_FAILS_WITH(Ferry({"ls", "*/secret.pdf"}), "NOT_FOUND");
  EXPECT_FAILS_WITH(Ferry({"get", "to-bob/*", Path("x")}), "PERMISSION_DENIED");
  EXPECT_FALSE(fs::exists(Path("x")));
}

TEST_F(GlobTest, TheShellExpandsRelativeToItsDirectory) {
  auto r = Ferry({"shell"}, "alice", "cd docs\nls ?.pdf\nrm b*\nls *.pdf\nrm 'star\\*.pdf'\nls\n");
  ASSERT_OK(r);
  EXPECT_EQ(r.out,
            "a.pdf\nb.pdf\na.pdf\nmy report.pdf\nstar*.pdf\n"
            ".hidden.pdf\n[draft].txt\na.pdf\nmy report.pdf\nnotes.txt\nold/\n");
  EXPECT_FALSE(fs::exists(HomePath("alice", "docs/b.pdf")));
}

}  // namespace
}  // namespace ferry::e2e
