// Incremental SHA-256 (OpenSSL EVP) and hex helpers.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ferry {

using Digest = std::array<uint8_t, 32>;

std::string ToHex(const uint8_t* data, size_t size);
inline std::string ToHex(const Digest& d) { return ToHex(d.data(), d.size()); }
// True if `s` is exactly 64 lower- or upper-case hex digits.
bool IsSha256Hex(std::string_view s);
// `hex` with its letters in lower case, the form ToHex writes: hashes a
// client or a peer sent in either case compare equal to computed ones.
std::string LowerHex(std::string_view hex);

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) = default;
  Sha256& operator=(Sha256&&) = default;

  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Digest Finish();
  std::string FinishHex() { return ToHex(Finish()); }

  static std::string HexOf(std::string_view s);

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

}  // namespace ferry
