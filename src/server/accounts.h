// User accounts in ferry.db: names, Argon2id password hashes and storage quotas.
// Not thread-safe: each thread or process uses its own Db.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/credentials.h"
#include "core/sqlite.h"
#include "core/status.h"

namespace ferry {

struct Account {
  std::string name;
  int64_t created_unix = 0;
  std::optional<int64_t> quota_bytes;  // nullopt: no quota
};

class AccountStore {
 public:
  explicit AccountStore(Db* db) : db_(db) {}

  Status Add(const std::string& name, std::string_view password);
  Status Delete(const std::string& name);
  Status SetPassword(const std::string& name, std::string_view password);
  Result<std::vector<Account>> List();
  // The stored password hash of `name`, or nullopt if there is no such user.
  Result<std::optional<std::string>> StoredHash(const std::string& name);
  // Sets (or with nullopt removes) the storage quota of `name`; NOT_FOUND if
  // there is no such user, INVALID_ARGUMENT for a negative size.
  Status SetQuota(const std::string& name, std::optional<int64_t> bytes);
  // The quota of `name` in bytes; nullopt if none is set or there is no such user.
  Result<std::optional<int64_t>> Quota(const std::string& name);

 private:
  Db* db_;
};

}  // namespace ferry
