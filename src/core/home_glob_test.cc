#include "core/home_glob.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include <gtest/gtest.h>

namespace ferry {
namespace {

namespace fs = std::filesystem;

class HomeGlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("ferry-homeglob-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "home" / "docs" / "old");
    fs::create_directories(base_ / "home" / "pics");
    fs::create_directories(base_ / "outside");
    for (const char* name :
         {"docs/a.pdf", "docs/b.pdf", "docs/notes.txt", "docs/old/c.pdf", "docs/.hidden.pdf",
          "docs/[draft].txt", "docs/star*.pdf", "docs/with space.pdf", "pics/x.pdf", "top.pdf"}) {
      std::ofstream(base_ / "home" / name) << name;
    }
    std::ofstream(base_ / "outside" / "secret.pdf") << "secret";
    fs::create_directory_symlink(base_ / "outside", base_ / "home" / "link");
    auto h = HomeFs::Open((base_ / "home").string(), false);
    ASSERT_TRUE(h.ok());
    home_.emplace(std::move(h).value());
  }
  void TearDown() override { fs::remove_all(base_); }

  // The matched paths, or the error's code and message.
  std::vector<std::string> Expand(const char* pattern, const GlobLimits& limits = {}) {
    auto parsed = RelPath::Parse(pattern);
    EXPECT_TRUE(parsed.ok()) << pattern;
    auto matches = ExpandGlob(*home_, *parsed, limits);
    if (!matches.ok()) return {"error: " + matches.status().ToString()};
    std::vector<std::string> out;
    for (const auto& m : *matches) out.push_back(m.path.Relative());
    return out;
  }

  fs::path base_;
  std::optional<HomeFs> home_;
};

using Paths = std::vector<std::string>;

TEST(GlobTextTest, MetaAndEscapes) {
  EXPECT_TRUE(HasGlobMeta("*.pdf"));
  EXPECT_TRUE(HasGlobMeta("a?c"));
  EXPECT_TRUE(HasGlobMeta("[ab].txt"));
  EXPECT_FALSE(HasGlobMeta("plain.txt"));
  EXPECT_FALSE(HasGlobMeta("star\\*.pdf"));
  EXPECT_FALSE(HasGlobMeta("\\[draft].txt"));
  EXPECT_TRUE(HasGlobMeta("\\\\*"));  // an escaped backslash, then a wildcard
  EXPECT_EQ(GlobUnescape("star\\*.pdf"), "star*.pdf");
  EXPECT_EQ(GlobUnescape("\\[draft\\].txt"), "[draft].txt");
  EXPECT_EQ(GlobUnescape("back\\slash"), "back\\slash");  // nothing to escape: kept
  EXPECT_EQ(GlobUnescape("trailing\\"), "trailing\\");
}

TEST_F(HomeGlobTest, MatchesPerComponentSortedAndSkipsHiddenFiles) {
  EXPECT_EQ(Expand("docs/*.pdf"),
            (Paths{"docs/a.pdf", "docs/b.pdf", "docs/star*.pdf", "docs/with space.pdf"}));
  EXPECT_EQ(Expand("docs/?.pdf"), (Paths{"docs/a.pdf", "docs/b.pdf"}));
  EXPECT_EQ(Expand("docs/[b-z].pdf"), (Paths{"docs/b.pdf"}));
  EXPECT_EQ(Expand("*/*.pdf"), (Paths{"docs/a.pdf", "docs/b.pdf", "docs/star*.pdf",
                                      "docs/with space.pdf", "pics/x.pdf"}));
  EXPECT_EQ(Expand("docs/.*.pdf"), (Paths{"docs/.hidden.pdf"}));
  EXPECT_EQ(Expand("*/old/*"), (Paths{"docs/old/c.pdf"}));
  EXPECT_EQ(Expand("d*"), (Paths{"docs"}));
}

TEST_F(HomeGlobTest, EscapesAndTheLiteralFallbackReachExactNames) {
  EXPECT_EQ(Expand("docs/star\\*.pdf"), (Paths{"docs/star*.pdf"}));
  // "[draft]" is a bracket expression matching one letter, so nothing matches;
  // the file spelled so is what the user meant.
  EXPECT_EQ(Expand("docs/[draft].txt"), (Paths{"docs/[draft].txt"}));
  EXPECT_EQ(Expand("docs/notes.txt"), (Paths{"docs/notes.txt"}));
  EXPECT_EQ(Expand("docs/*.doc"), (Paths{"error: NOT_FOUND: no match for '/docs/*.doc'"}));
  EXPECT_EQ(Expand("nothing/here"), (Paths{"error: NOT_FOUND: no match for '/nothing/here'"}));
}

TEST_F(HomeGlobTest, NeverEntersASymlink) {
  // "link" is matched as an entry of the home but never descended into.
  EXPECT_EQ(Expand("*/secret.pdf"), (Paths{"error: NOT_FOUND: no match for '/*/secret.pdf'"}));
  EXPECT_EQ(Expand("l*"), (Paths{"link"}));
  EXPECT_EQ(Expand("link/*"), (Paths{"error: PERMISSION_DENIED: '/link' goes through a symbolic "
                                     "link, which ferry never follows"}));
}

TEST_F(HomeGlobTest, LimitsEndTheWalkWithAReason) {
  GlobLimits few_matches;
  few_matches.max_matches = 2;
  EXPECT_EQ(Expand("docs/*", few_matches),
            (Paths{"error: RESOURCE_EXHAUSTED: '/docs/*' matches more than 2 names; narrow it"}));
  GlobLimits few_looks;
  few_looks.max_examined = 5;
  EXPECT_EQ(Expand("*/*", few_looks),
            (Paths{"error: RESOURCE_EXHAUSTED: '/*/*' makes the server look at more than 5 "
                   "names; narrow it"}));
}

}  // namespace
}  // namespace ferry
