// User names, passwords and password checks, shared by the file server and the
// directory: both keep Argon2id hashes and check them the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry {

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

}  // namespace ferry
