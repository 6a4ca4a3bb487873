#include "core/credentials.h"

#include <fmt/format.h>

#include "core/display_text.h"
#include "core/secrets.h"

namespace ferry {

Status ValidateUserName(std::string_view name) {
  // The name is shown escaped: it may come from anyone (a login, a register).
  auto refuse = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("'{}{}' is not a valid user name: {}",
                                               ForDisplay(name.substr(0, 40)),
                                               name.size() > 40 ? "..." : "", why));
  };
  if (name.empty() || name.size() > 32) return refuse("a user name has 1 to 32 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return refuse("a user name may contain only a-z, 0-9, '.', '_' and '-'");
  }
  if (name[0] == '.' || name[0] == '-' || name[0] == '_') {
    return refuse("a user name starts with a letter or digit");
  }
  return Status::Ok();
}

Status ValidatePassword(std::string_view password) {
  if (password.size() < 8)
    return Status::InvalidArgument("the password needs at least 8 characters");
  if (password.size() > 1024) return Status::InvalidArgument("the password is too long");
  return Status::Ok();
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
