// Secrets that must outlive a request but never rest in the clear: an
// encryption job's passphrase waits in the queue sealed (XSalsa20-Poly1305,
// libsodium secretbox) under a key kept in the data directory, readable only
// by the server and its workers (mode 0600). Whoever reads the job table or the
// Redis stream sees only ciphertext.
#pragma once

#include <sodium.h>

#include <array>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry::jobs {

class SecretSealer {
 public:
  // Reads the key at `key_path`, creating it (0600, exclusively) if missing.
  static Result<SecretSealer> OpenOrCreate(const std::string& key_path);
  // A sealer with a fresh random key, for tests.
  static SecretSealer Ephemeral();

  SecretSealer(const SecretSealer&) = delete;
  SecretSealer& operator=(const SecretSealer&) = delete;
  SecretSealer(SecretSealer&& other) noexcept : key_(other.key_) {
    sodium_memzero(other.key_.data(), other.key_.size());
  }
  SecretSealer& operator=(SecretSealer&&) = delete;
  ~SecretSealer() { sodium_memzero(key_.data(), key_.size()); }

  // Hex of nonce || ciphertext; "" for an empty secret.
  std::string Seal(std::string_view secret) const;
  // The secret back; DATA_LOSS if `sealed` was not made with this key.
  Result<std::string> Unseal(std::string_view sealed) const;

 private:
  SecretSealer() = default;
  std::array<unsigned char, crypto_secretbox_KEYBYTES> key_{};
};

}  // namespace ferry::jobs
