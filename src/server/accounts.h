// User accounts in ferry.db: names and Argon2id password hashes.
// Not thread-safe: each thread or process uses its own Db.
#pragma once

#include <cstdint>
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

class AccountStore {
 public:
  explicit AccountStore(Db* db) : db_(db) {}

  Status Add(const std::string& name, std::string_view password);
  Status Delete(const std::string& name);
  Status SetPassword(const std::string& name, std::string_view password);
  Result<std::vector<Account>> List();
  // The stored password hash (the session's credential) if the password
  // matches; UNAUTHENTICATED otherwise, with the same message whether the user
  // is unknown or the password wrong.
  Result<std::string> Verify(const std::string& name, std::string_view password);
  // True if `name` still exists with password hash `credential`.
  Result<bool> StillValid(const std::string& name, const std::string& credential);

 private:
  Db* db_;
};

}  // namespace ferry
