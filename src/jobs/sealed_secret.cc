#include "jobs/sealed_secret.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "core/sha256.h"
#include "core/unique_fd.h"
#include "transfer/file_io.h"
#include "transfer/publish.h"

namespace ferry::jobs {
namespace {

Status ReadKey(int fd, const std::string& path, unsigned char* key, size_t size) {
  auto n = ReadFullAt(fd, reinterpret_cast<char*>(key), size, 0, path);
  if (!n.ok()) return n.status();
  if (*n != size) {
    return Status::DataLoss(
        fmt::format("'{}' is not a job key ({} bytes, expected {})", path, *n, size));
  }
  return Status::Ok();
}

std::optional<std::vector<unsigned char>> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<unsigned char> out(hex.size() / 2);
  size_t bin_len = 0;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &bin_len, nullptr) !=
          0 ||
      bin_len != out.size()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

Result<SecretSealer> SecretSealer::OpenOrCreate(const std::string& key_path) {
  SecretSealer sealer;
  UniqueFd fd(::open(key_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() >= 0) {
    FERRY_RETURN_IF_ERROR(ReadKey(fd.get(), key_path, sealer.key_.data(), sealer.key_.size()));
    return sealer;
  }
  if (errno != ENOENT) return ErrnoStatus(errno, fmt::format("cannot open '{}'", key_path));
  // Write under a temporary name and publish without replacing, so a
  // concurrent starter either wins or reads the complete key of the one that
  // did.
  crypto_secretbox_keygen(sealer.key_.data());
  auto file = PendingFile::Create(key_path, 0600);
  if (!file.ok()) return file.status();
  FERRY_RETURN_IF_ERROR(WriteFullAt(file->fd(), reinterpret_cast<const char*>(sealer.key_.data()),
                                    sealer.key_.size(), 0, "cannot write job key"));
  Published published = file->Commit(false, "cannot store job key");
  if (published.error == EEXIST) return OpenOrCreate(key_path);  // another starter won
  if (!published.ok()) return published.status;
  return sealer;
}

SecretSealer SecretSealer::Ephemeral() {
  SecretSealer sealer;
  crypto_secretbox_keygen(sealer.key_.data());
  return sealer;
}

std::string SecretSealer::Seal(std::string_view secret) const {
  if (secret.empty()) return "";
  std::vector<unsigned char> box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 secret.size());
  unsigned char* nonce = box.data();
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(box.data() + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), nonce,
                        key_.data());
  return ToHex(box.data(), box.size());
}

Result<std::string> SecretSealer::Unseal(std::string_view sealed) const {
  if (sealed.empty()) return std::string();
  auto box = FromHex(sealed);
  if (!box || box->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return Status::DataLoss("a sealed job secret is malformed");
  }
  std::string secret(box->size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(secret.data()),
                                 box->data() + crypto_secretbox_NONCEBYTES,
                                 box->size() - crypto_secretbox_NONCEBYTES, box->data(),
                                 key_.data()) != 0) {
    return Status::DataLoss("a sealed job secret does not open with this data directory's job key");
  }
  return secret;
}

}  // namespace ferry::jobs
