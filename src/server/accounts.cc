#include "server/accounts.h"

#include <ctime>

#include <fmt/format.h>

#include "core/secrets.h"

namespace ferry {

Status ValidateUserName(std::string_view name) {
  if (name.empty() || name.size() > 32) {
    return Status::InvalidArgument("a user name has 1 to 32 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument("a user name may contain only a-z, 0-9, '.', '_' and '-'");
    }
  }
  if (name[0] == '.' || name[0] == '-' || name[0] == '_') {
    return Status::InvalidArgument("a user name starts with a letter or digit");
  }
  return Status::Ok();
}

Status ValidatePassword(std::string_view password) {
  if (password.size() < 8)
    return Status::InvalidArgument("the password needs at least 8 characters");
  if (password.size() > 1024) return Status::InvalidArgument("the password is too long");
  return Status::Ok();
}

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
  auto stmt = db_->Prepare("SELECT name, created_unix FROM users ORDER BY name");
  if (!stmt.ok()) return stmt.status();
  std::vector<Account> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({stmt->Text(0), stmt->Int(1)});
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

Result<std::string> CheckPassword(const std::optional<std::string>& stored,
                                  std::string_view password) {
  static const Status kWrong = Status::Unauthenticated("wrong user name or password");
  if (!stored) {
    VerifyAgainstDummy(password);
    return kWrong;
  }
  if (!VerifyPassword(*stored, password)) return kWrong;
  return *stored;
}

}  // namespace ferry
