#include "client/tree_names.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ferry {
namespace {

namespace fs = std::filesystem;

TEST(RefusedNamesTest, NothingRefusedIsOk) {
  RefusedNames refused;
  EXPECT_TRUE(refused.empty());
  EXPECT_TRUE(refused.ToStatus("put -r sent nothing", "not allowed on the server").ok());
}

TEST(RefusedNamesTest, OneNameIsNamedWithItsReasonAndEscaped) {
  RefusedNames refused;
  refused.Add("tree/sub/b\tc.txt", "name 'b\\x{09}c.txt' contains a control character");
  Status s = refused.ToStatus("put -r sent nothing", "not allowed on the server");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "put -r sent nothing: 1 name is not allowed on the server: 'tree/sub/b\\x{09}c.txt' "
            "(the first: name 'b\\x{09}c.txt' contains a control character); rename it and run "
            "again");
}

TEST(RefusedNamesTest, ManyNamesShowTheFirstFewAndTheCount) {
  RefusedNames refused;
  for (int i = 0; i < 5; ++i) refused.Add("n" + std::to_string(i), "reason " + std::to_string(i));
  EXPECT_EQ(refused.total(), 5u);
  Status s = refused.ToStatus("get -r wrote nothing", "not safe to write here");
  EXPECT_EQ(s.message(),
            "get -r wrote nothing: 5 names are not safe to write here: 'n0', 'n1', 'n2' and 2 "
            "more (the first: reason 0); rename them and run again");
}

TEST(CheckLocalTreeNamesTest, FindsEveryRefusedNameBeforeAnythingIsSent) {
  fs::path root = fs::temp_directory_path() / ("ferry-tree-names-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "sub" / "deep\x7f");
  std::ofstream(root / "a.txt") << "a";
  std::ofstream(root / "sub" / "b\tc.txt") << "b";
  std::ofstream(root / "z.txt") << "z";
  Status s = CheckLocalTreeNames(root.string(), "dest");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("2 names are not allowed"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("sub/b\\x{09}c.txt'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("sub/deep\\x{7f}'"), std::string::npos) << s.message();

  fs::remove(root / "sub" / "b\tc.txt");
  fs::remove(root / "sub" / "deep\x7f");
  EXPECT_TRUE(CheckLocalTreeNames(root.string(), "dest").ok());
  // A symlink is never sent, so its name does not matter.
  fs::create_symlink("a.txt", root / "link\x01");
  EXPECT_TRUE(CheckLocalTreeNames(root.string(), "dest").ok());
  // A single file is not a tree.
  EXPECT_TRUE(CheckLocalTreeNames((root / "a.txt").string(), "dest").ok());
  fs::remove_all(root);
}

}  // namespace
}  // namespace ferry
