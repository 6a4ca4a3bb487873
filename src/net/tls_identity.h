// The server's TLS identity: a key and a self-signed certificate made on first
// start, and SHA-256 fingerprints of certificates for pinning.
#pragma once

#include <string>

#include "core/status.h"

namespace ferry {

// The name a generated certificate carries (besides localhost and loopback IPs);
// clients that pin a certificate verify this name rather than the host they dial.
inline constexpr const char* kSelfSignedName = "ferry-server";

struct CertPair {
  std::string cert_pem;
  std::string key_pem;
};

// Loads `cert_path` and `key_path`, or when both are absent creates a new P-256 key
// and a 10-year self-signed certificate there (the key file with mode 0600).
// `created` reports which happened.
Result<CertPair> LoadOrCreateSelfSigned(const std::string& cert_path, const std::string& key_path,
                                        bool* created);
// Loads a given pair without creating anything.
Result<CertPair> LoadCertPair(const std::string& cert_path, const std::string& key_path);

// SHA-256 of the certificate's DER encoding, as 64 lower-case hex digits.
Result<std::string> CertFingerprint(const std::string& cert_pem);
// "ab:cd:..." — how a fingerprint is shown to people.
std::string FormatFingerprint(const std::string& hex);
// The first DNS name in the certificate's subjectAltName, or its CN.
Result<std::string> CertHostName(const std::string& cert_pem);

// Reads a whole small file (certificates, keys, config).
Result<std::string> ReadSmallFile(const std::string& path);

}  // namespace ferry
