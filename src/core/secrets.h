// Password hashing (Argon2id via libsodium) and random tokens.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry {

// Call once before any other function here (safe to call repeatedly).
Status InitCrypto();

// An Argon2id hash string ("$argon2id$v=19$m=...") with OWASP's recommended cost
// (19 MiB, 2 passes): strong, yet cheap enough in memory that a login does not
// dominate a small server's footprint.
Result<std::string> HashPassword(std::string_view password);
// True if `password` matches `hash`. Constant-time in the password.
bool VerifyPassword(const std::string& hash, std::string_view password);
// Burns about the time of one verification: used for unknown users, so response
// time does not reveal which user names exist.
void VerifyAgainstDummy(std::string_view password);

// `bytes` random bytes from the OS CSPRNG, hex-encoded.
std::string RandomHex(size_t bytes);

// Wipes a string's contents before it is freed.
void Wipe(std::string& s);

}  // namespace ferry
