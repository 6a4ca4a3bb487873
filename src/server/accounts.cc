#include "server/accounts.h"

#include <ctime>

#include <fmt/format.h>

#include "core/secrets.h"

namespace ferry {

Status AccountStore::Add(const std::string& name, std::string_view password) {
  FERRY_RETURN_IF_ERROR(ValidateUserName(name));
  FERRY_RETURN_IF_ERROR(ValidatePassword(password));
  auto hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  auto stmt = db_->Prepare(
      "INSERT INTO users(name, password_hash, created_unix) VALUES(?, ?, ?) "
      "ON CONFLICT(name) DO NOTHING");
  if (!stmt.ok()) return stmt.status();
  FERRY_RETURN_IF_ERROR(
      stmt->Bind(1, name).Bind(2, *hash).Bind(3, int64_t{std::time(nullptr)}).Run());
  if (db_->Changes() == 0)
    return Status::AlreadyExists(fmt::format("user '{}' already exists", name));
  return Status::Ok();
}

Status AccountStore::Delete(const std::string& name) {
  auto stmt = db_->Prepare("DELETE FROM users WHERE name = ?");
  if (!stmt.ok()) return stmt.status();
  FERRY_RETURN_IF_ERROR(stmt->Bind(1, name).Run());
  if (db_->Changes() == 0) return Status::NotFound(fmt::format("no user named '{}'", name));
  return Status::Ok();
}

Status AccountStore::SetPassword(const std::string& name, std::string_view password) {
  FERRY_RETURN_IF_ERROR(ValidatePassword(password));
  auto hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  auto stmt = db_->Prepare("UPDATE users SET password_hash = ? WHERE name = ?");
  if (!stmt.ok()) return stmt.status();
  FERRY_RETURN_IF_ERROR(stmt->Bind(1, *hash).Bind(2, name).Run());
  if (db_->Changes() == 0) return Status::NotFound(fmt::format("no user named '{}'", name));
  return Status::Ok();
}

Result<std::vector<Account>> AccountStore::List() {
  auto stmt = db_->Prepare("SELECT name, created_unix, quota_bytes FROM users ORDER BY name");
  if (!stmt.ok()) return stmt.status();
  std::vector<Account> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({stmt->Text(0), stmt->Int(1),
                   stmt->IsNull(2) ? std::nullopt : std::optional(stmt->Int(2))});
  }
  return out;
}

Result<std::optional<std::string>> AccountStore::StoredHash(const std::string& name) {
  auto stmt = db_->Prepare("SELECT password_hash FROM users WHERE name = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, name);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(stmt->Text(0));
}

Status AccountStore::SetQuota(const std::string& name, std::optional<int64_t> bytes) {
  if (bytes && *bytes < 0) return Status::InvalidArgument("a quota cannot be negative");
  auto stmt = db_->Prepare("UPDATE users SET quota_bytes = ? WHERE name = ?");
  if (!stmt.ok()) return stmt.status();
  if (bytes) {
    stmt->Bind(1, *bytes);
  } else {
    stmt->BindNull(1);
  }
  FERRY_RETURN_IF_ERROR(stmt->Bind(2, name).Run());
  if (db_->Changes() == 0) return Status::NotFound(fmt::format("no user named '{}'", name));
  return Status::Ok();
}

Result<std::optional<int64_t>> AccountStore::Quota(const std::string& name) {
  auto stmt = db_->Prepare("SELECT quota_bytes FROM users WHERE name = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, name);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row || stmt->IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt->Int(0));
}

}  // namespace ferry
