#include "server/accounts.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/secrets.h"
#include "server/data_dir.h"

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

TEST(AccountsTest, QuotasAndTheirMigration) {
  ASSERT_TRUE(InitCrypto().ok());
  auto dir = std::filesystem::temp_directory_path() / ("ferry-quota-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    // A ferry.db from before quotas existed.
    auto old = Db::Open((dir / "ferry.db").string());
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE(old->Exec("CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT "
                          "NULL, created_unix INTEGER NOT NULL)")
                    .ok());
    ASSERT_TRUE(AccountStore(&*old).Add("alice", "correct horse").ok());
  }
  DataDir data{dir.string()};
  auto db = data.OpenDatabase();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(data.OpenDatabase().ok());  // migrating twice is harmless
  AccountStore accounts(&*db);
  EXPECT_FALSE(accounts.Quota("alice")->has_value());
  ASSERT_TRUE(accounts.SetQuota("alice", int64_t{10} << 30).ok());
  EXPECT_EQ(**accounts.Quota("alice"), int64_t{10} << 30);
  EXPECT_EQ(accounts.List()->at(0).quota_bytes, std::optional(int64_t{10} << 30));
  ASSERT_TRUE(accounts.SetQuota("alice", std::nullopt).ok());
  EXPECT_FALSE(accounts.Quota("alice")->has_value());
  EXPECT_EQ(accounts.SetQuota("nobody", 1).code(), Code::kNotFound);
  EXPECT_EQ(accounts.SetQuota("alice", -1).code(), Code::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry
