#include "net/tls_identity.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "core/secrets.h"
#include "core/sha256.h"
#include "core/unique_fd.h"
#include "transfer/publish.h"

namespace ferry {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

Status OpensslError(const std::string& what) { return Status::Internal(what + " (OpenSSL)"); }

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return OpensslError("cannot add extension");
  return Status::Ok();
}

Result<CertPair> Generate() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpensslError("cannot generate a key");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  // A random positive serial (124 random bits), unique as RFC 5280 asks.
  std::string serial_hex = RandomHex(16);
  serial_hex[0] = '1';
  BIGNUM* bn = nullptr;
  BN_hex2bn(&bn, serial_hex.c_str());
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(kSelfSignedName), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = fmt::format("DNS:{},DNS:localhost,IP:127.0.0.1,IP:::1", kSelfSignedName);
  FERRY_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, san.c_str()));
  FERRY_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  FERRY_RETURN_IF_ERROR(
      AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign"));
  FERRY_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return OpensslError("cannot sign");

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return OpensslError("cannot encode the certificate");
  }
  return CertPair{BioToString(cert_bio.get()), BioToString(key_bio.get())};
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno, fmt::format("cannot read '{}'", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<CertPair> LoadCertPair(const std::string& cert_path, const std::string& key_path) {
  auto cert = ReadSmallFile(cert_path);
  if (!cert.ok()) return cert.status();
  auto key = ReadSmallFile(key_path);
  if (!key.ok()) return key.status();
  X509Ptr x509 = ParseCert(*cert);
  if (!x509)
    return Status::InvalidArgument(fmt::format("'{}' is not a PEM certificate", cert_path));
  BioPtr key_bio(BIO_new_mem_buf(key->data(), static_cast<int>(key->size())));
  PkeyPtr pkey(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return Status::InvalidArgument(fmt::format("'{}' is not a PEM private key", key_path));
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    return Status::InvalidArgument(fmt::format(
        "the key in '{}' does not belong to the certificate in '{}'", key_path, cert_path));
  }
  return CertPair{std::move(cert).value(), std::move(key).value()};
}

Result<CertPair> LoadOrCreateSelfSigned(const std::string& cert_path, const std::string& key_path,
                                        bool* created) {
  *created = false;
  bool have_cert = Exists(cert_path), have_key = Exists(key_path);
  if (have_cert && have_key) return LoadCertPair(cert_path, key_path);
  if (have_cert != have_key) {
    return Status::FailedPrecondition(fmt::format(
        "found only one of '{}' and '{}'; restore the other or remove both to make a new "
        "certificate",
        cert_path, key_path));
  }
  auto pair = Generate();
  if (!pair.ok()) return pair.status();
  FERRY_RETURN_IF_ERROR(PublishFile(key_path, pair->key_pem, 0600));
  FERRY_RETURN_IF_ERROR(PublishFile(cert_path, pair->cert_pem, 0644));
  *created = true;
  return pair;
}

Result<std::string> CertFingerprint(const std::string& cert_pem) {
  X509Ptr cert = ParseCert(cert_pem);
  if (!cert) return Status::InvalidArgument("not a PEM certificate");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) return OpensslError("digest");
  return ToHex(md, len);
}

std::string FormatFingerprint(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

Result<std::string> CertHostName(const std::string& cert_pem) {
  X509Ptr cert = ParseCert(cert_pem);
  if (!cert) return Status::InvalidArgument("not a PEM certificate");
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  std::string found;
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && found.empty(); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      if (gn->type == GEN_DNS) {
        const auto* s = gn->d.dNSName;
        found.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (!found.empty()) return found;
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) >
      0) {
    return std::string(cn);
  }
  return Status::InvalidArgument("the certificate names no host");
}

}  // namespace ferry
