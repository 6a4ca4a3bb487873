// User accounts in ferry.db: names and Argon2id password hashes.
// Not thread-safe: each thread or process uses its own Db.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sqlite.h"
#include "core/status.h"

namespace ferry {

struct Account {
  std::string name;
  int64_t created_unix = 0;
};

// 1-32 characters from [a-z0-9._-], starting with a letter or digit: safe as a
// directory name and in logs.
Status ValidateUserName(std::string_view name);
// At least 8 bytes, at most 1024.
Status ValidatePassword(std::string_view password);

// Checks `password` against `stored` (from StoredHash): the hash, which is the
// session's credential, if it matches; UNAUTHENTICATED otherwise, with the same
// message and about the same time whether the user is unknown or the password
// wrong. Costs one Argon2id verification (19 MiB); touches no database.
Result<std::string> CheckPassword(const std::optional<std::string>& stored,
                                  std::string_view password);

class AccountStore {
 public:
  explicit AccountStore(Db* db) : db_(db) {}

  Status Add(const std::string& name, std::string_view password);
  Status Delete(const std::string& name);
  Status SetPassword(const std::string& name, std::string_view password);
  Result<std::vector<Account>> List();
  // The stored password hash of `name`, or nullopt if there is no such user.
  Result<std::optional<std::string>> StoredHash(const std::string& name);

 private:
  Db* db_;
};

}  // namespace ferry
