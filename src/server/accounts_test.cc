#include "server/accounts.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/secrets.h"

namespace ferry {
namespace {

TEST(AccountsTest, StoredHashAndCheckPassword) {
  ASSERT_TRUE(InitCrypto().ok());
  auto path = std::filesystem::temp_directory_path() / ("ferry-acct-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  auto db = Db::Open(path.string());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
                       "created_unix INTEGER NOT NULL)")
                  .ok());
  AccountStore accounts(&*db);
  ASSERT_TRUE(accounts.Add("alice", "correct horse").ok());
  EXPECT_EQ(accounts.Add("alice", "another one").code(), Code::kAlreadyExists);

  auto stored = accounts.StoredHash("alice");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(stored->value().find("correct horse"), std::string::npos);

  auto good = CheckPassword(*stored, "correct horse");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, **stored);  // the credential a session keeps
  auto wrong = CheckPassword(*stored, "wrong horse");
  auto unknown = CheckPassword(*accounts.StoredHash("nobody"), "correct horse");
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());

  ASSERT_TRUE(accounts.SetPassword("alice", "new password!").ok());
  EXPECT_NE(**accounts.StoredHash("alice"), **stored) << "sessions compare this to end";
  ASSERT_TRUE(accounts.Delete("alice").ok());
  EXPECT_FALSE(accounts.StoredHash("alice")->has_value());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ferry
