#include "jobs/age.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/usable_cpus.h"
#include "jobs/job_control.h"
#include "jobs/memory_budget.h"

namespace ferry::jobs::age {
namespace {

constexpr std::string_view kIntro = "age-encryption.org/v1\n";
constexpr std::string_view kScryptLabel = "age-encryption.org/v1/scrypt";
constexpr std::string_view kArmorBegin = "-----BEGIN AGE ENCRYPTED FILE-----";
constexpr size_t kFileKeyBytes = 16;
constexpr size_t kKeyBytes = 32;
constexpr size_t kTagBytes = 16;
constexpr size_t kSaltBytes = 16;
constexpr size_t kPayloadNonceBytes = 16;
constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kSealedChunkBytes = kChunkBytes + kTagBytes;
// 512 KiB of plaintext per batch: large enough that the locking and syscalls per
// batch cost nothing next to the cipher, small enough for prompt stops.
constexpr size_t kChunksPerBatch = 8;
// Each worker holds two batch buffers (~1 MiB). 8 threads seal far faster than
// storage delivers, and the cap keeps memory at a few MiB.
constexpr int kMaxThreads = 8;
constexpr int kMaxLogN = kMaxScryptLogN;
constexpr size_t kColumnsPerLine = 64;
constexpr size_t kMaxHeaderLine = 64 * 1024;
constexpr size_t kMaxHeaderBytes = 1024 * 1024;
constexpr std::array<uint8_t, 12> kZeroNonce{};

using Bytes = std::span<const uint8_t>;

// Key material, wiped when it goes out of scope.
template <size_t N>
class Secret {
 public:
  Secret() = default;
  ~Secret() { sodium_memzero(bytes_.data(), N); }
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  Bytes bytes() const { return bytes_; }

 private:
  std::array<uint8_t, N> bytes_{};
};

Status NotAge(const std::string& why) { return Status::InvalidArgument("not an age file: " + why); }
Status Damaged(const std::string& why) {
  return Status::DataLoss("the file is damaged or was tampered with: " + why);
}
Status CryptoFailure(const char* what) {
  return Status::Internal(std::string("OpenSSL failed to ") + what);
}

// ---- base64 (RFC 4648 standard alphabet, no padding, canonical) -------------

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string ToBase64(Bytes data) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kBase64[(acc << (6 - bits)) & 63];
  return out;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes strictly, as age does: no padding, no other characters, and unused
// low bits zero, so every byte string has exactly one accepted encoding.
std::optional<std::vector<uint8_t>> FromBase64(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = Base64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return std::nullopt;
  return out;
}

// ---- primitives ---------------------------------------------------------------

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct KdfFree {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
};
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

// ChaCha20-Poly1305 (RFC 8439) under one key, in one direction. Not thread-safe:
// each thread keeps its own.
class Aead {
 public:
  Aead(const uint8_t* key, bool encrypt) : ctx_(EVP_CIPHER_CTX_new()) {
    ok_ = ctx_ && EVP_CipherInit_ex(ctx_.get(), EVP_chacha20_poly1305(), nullptr, key, nullptr,
                                    encrypt ? 1 : 0) == 1;
  }
  bool ok() const { return ok_; }

  // Writes `size` bytes of ciphertext and then the 16-byte tag to `out`.
  bool Seal(const uint8_t* nonce, const uint8_t* in, size_t size, uint8_t* out) {
    int n = 0;
    int tail = 0;
    return EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, nonce, -1) == 1 &&
           (size == 0 || EVP_EncryptUpdate(ctx_.get(), out, &n, in, static_cast<int>(size)) == 1) &&
           EVP_EncryptFinal_ex(ctx_.get(), out + n, &tail) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagBytes),
                               out + size) == 1;
  }

  // `in` holds `size` bytes of ciphertext and then the tag. False unless they
  // authenticate; `out` (`size` bytes) is garbage then.
  bool Open(const uint8_t* nonce, const uint8_t* in, size_t size, uint8_t* out) {
    int n = 0;
    int tail = 0;
    return EVP_CipherInit_ex(ctx_.get(), nullptr, nullptr, nullptr, nonce, -1) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagBytes),
                               const_cast<uint8_t*>(in + size)) == 1 &&
           (size == 0 || EVP_DecryptUpdate(ctx_.get(), out, &n, in, static_cast<int>(size)) == 1) &&
           EVP_DecryptFinal_ex(ctx_.get(), out + n, &tail) == 1;
  }

 private:
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx_;
  bool ok_ = false;
};

// HKDF-SHA256 (RFC 5869) to 32 bytes. An empty salt means HashLen zero bytes.
Status Hkdf(Bytes ikm, Bytes salt, std::string_view info, Secret<kKeyBytes>& out) {
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return CryptoFailure("set up HKDF");
  char digest[] = "SHA256";
  std::array<OSSL_PARAM, 5> params;
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  const_cast<uint8_t*>(ikm.data()), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  if (EVP_KDF_derive(ctx.get(), out.data(), kKeyBytes, params.data()) != 1) {
    return CryptoFailure("derive a key with HKDF");
  }
  return Status::Ok();
}

// The header MAC: HMAC-SHA256 under HKDF(file key, "header") over the header
// from its first byte through "---".
Status HeaderMac(const Secret<kFileKeyBytes>& file_key, std::string_view header,
                 std::array<uint8_t, 32>& mac) {
  Secret<kKeyBytes> mac_key;
  FERRY_RETURN_IF_ERROR(Hkdf(file_key.bytes(), {}, "header", mac_key));
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), mac_key.data(), static_cast<int>(kKeyBytes),
           reinterpret_cast<const uint8_t*>(header.data()), header.size(), mac.data(),
           &size) == nullptr) {
    return CryptoFailure("compute the header MAC");
  }
  return Status::Ok();
}

// The scrypt stanza's wrapping key: scrypt(passphrase, label || salt, N, r=8, p=1),
// run once `budget` (if any) grants its memory.
Status ScryptKey(std::string_view passphrase, Bytes salt, int log_n, MemoryBudget* budget,
                 const JobControl& control, Secret<kKeyBytes>& key) {
  MemoryBudget::Lease lease;
  if (budget != nullptr) {
    auto granted = budget->Acquire(ScryptMemoryBytes(log_n),
                                   "scrypt with work factor 2^" + std::to_string(log_n), control);
    if (!granted.ok()) return granted.status();
    lease = std::move(granted).value();
  }
  std::array<uint8_t, kScryptLabel.size() + kSaltBytes> full_salt{};
  std::memcpy(full_salt.data(), kScryptLabel.data(), kScryptLabel.size());
  std::memcpy(full_salt.data() + kScryptLabel.size(), salt.data(), kSaltBytes);
  if (crypto_pwhash_scryptsalsa208sha256_ll(
          reinterpret_cast<const uint8_t*>(passphrase.data()), passphrase.size(), full_salt.data(),
          full_salt.size(), uint64_t{1} << log_n, 8, 1, key.data(), kKeyBytes) != 0) {
    return Status::ResourceExhausted("not enough memory for scrypt with N = 2^" +
                                     std::to_string(log_n) + " (it needs " +
                                     std::to_string((uint64_t{1024} << log_n) >> 20) + " MiB)");
  }
  return Status::Ok();
}

// STREAM nonce: 11-byte big-endian chunk counter, then the last-chunk flag.
std::array<uint8_t, 12> ChunkNonce(uint64_t counter, bool last) {
  std::array<uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i) nonce[10 - i] = static_cast<uint8_t>(counter >> (8 * i));
  nonce[11] = last ? 1 : 0;
  return nonce;
}

// ---- I/O ------------------------------------------------------------------------

Status WriteAll(int fd, const uint8_t* data, size_t size, const char* what) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, what);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Sequential reads with a small read-ahead buffer, so the header can be read
// line by line and a full batch can ask whether anything follows it.
class Input {
 public:
  Input(int fd, const char* what) : fd_(fd), what_(what) {}
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  // Up to `size` bytes; fewer only at the end of the input.
  Result<size_t> Read(uint8_t* dst, size_t size) {
    size_t done = std::min(size, buffer_.size() - pos_);
    std::memcpy(dst, buffer_.data() + pos_, done);
    pos_ += done;
    while (done < size) {
      ssize_t n = ::read(fd_, dst + done, size - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, what_);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  // True if no bytes remain (reads ahead to find out).
  Result<bool> AtEnd() {
    if (pos_ < buffer_.size()) return false;
    auto n = Fill();
    if (!n.ok()) return n.status();
    return *n == 0;
  }

  // The next line including its '\n'; without one if the input ends first or
  // the line reaches `max` bytes.
  Result<std::string> ReadLine(size_t max) {
    for (;;) {
      size_t newline = buffer_.find('\n', pos_);
      size_t available = buffer_.size() - pos_;
      size_t take = 0;
      if (newline != std::string::npos && newline - pos_ < max) {
        take = newline - pos_ + 1;
      } else if (available >= max) {
        take = max;
      } else {
        auto n = Fill();
        if (!n.ok()) return n.status();
        if (*n > 0) continue;
        take = available;
      }
      std::string line = buffer_.substr(pos_, take);
      pos_ += take;
      return line;
    }
  }

 private:
  // Appends one read(2) to the buffer; 0 at the end of the input.
  Result<size_t> Fill() {
    buffer_.erase(0, pos_);
    pos_ = 0;
    size_t old = buffer_.size();
    buffer_.resize(old + 4096);
    for (;;) {
      ssize_t n = ::read(fd_, buffer_.data() + old, 4096);
      if (n < 0 && errno == EINTR) continue;
      buffer_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n < 0) return ErrnoStatus(errno, what_);
      return static_cast<size_t>(n);
    }
  }

  const int fd_;
  const char* const what_;
  std::string buffer_;  // bytes read ahead: [pos_, size) are not consumed yet
  size_t pos_ = 0;
};

// ---- the STREAM payload -----------------------------------------------------------

// A page-aligned byte buffer, wiped when freed. Alignment matters for speed:
// read(2) from a file at a page-aligned offset into a buffer a few bytes past a
// page boundary (as malloc returns them) hits 4K aliasing in the kernel's copy,
// which costs a large share of the system time of a read (docs/benchmarks.md).
class PageBuffer {
 public:
  explicit PageBuffer(size_t size) : storage_(size + kPage), size_(size) {
    size_t skew = reinterpret_cast<uintptr_t>(storage_.data()) % kPage;
    data_ = storage_.data() + (kPage - skew) % kPage;
  }
  ~PageBuffer() { sodium_memzero(storage_.data(), storage_.size()); }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;

  uint8_t* data() { return data_; }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kPage = 4096;
  std::vector<uint8_t> storage_;
  uint8_t* data_ = nullptr;
  size_t size_;
};

// Up to kChunksPerBatch consecutive chunks on their way through one worker.
struct Batch {
  explicit Batch(bool encrypt)
      : in(kChunksPerBatch * (encrypt ? kChunkBytes : kSealedChunkBytes)),
        out(kChunksPerBatch * (encrypt ? kSealedChunkBytes : kChunkBytes)) {}

  PageBuffer in;  // plaintext when sealing, sealed chunks when opening
  size_t in_size = 0;
  PageBuffer out;
  size_t out_size = 0;
  uint64_t first_chunk = 0;  // STREAM counter of the first chunk
  bool final = false;        // holds the stream's last chunk
};

Status SealBatch(Aead& aead, Batch& batch) {
  // Only the final batch can be short; an empty input still gets one (empty) chunk.
  size_t chunks = std::max<size_t>(1, (batch.in_size + kChunkBytes - 1) / kChunkBytes);
  batch.out_size = 0;
  for (size_t i = 0; i < chunks; ++i) {
    size_t offset = i * kChunkBytes;
    size_t size = std::min(kChunkBytes, batch.in_size - offset);
    auto nonce = ChunkNonce(batch.first_chunk + i, batch.final && i + 1 == chunks);
    if (!aead.Seal(nonce.data(), batch.in.data() + offset, size,
                   batch.out.data() + batch.out_size)) {
      return CryptoFailure("encrypt with ChaCha20-Poly1305");
    }
    batch.out_size += size + kTagBytes;
  }
  return Status::Ok();
}

Status OpenBatch(Aead& aead, Batch& batch) {
  if (batch.in_size == 0) return Damaged("it is truncated: nothing follows the header");
  batch.out_size = 0;
  for (size_t offset = 0; offset < batch.in_size; offset += kSealedChunkBytes) {
    size_t size = std::min(kSealedChunkBytes, batch.in_size - offset);
    uint64_t index = batch.first_chunk + offset / kSealedChunkBytes;
    auto chunk = [index] { return "chunk " + std::to_string(index); };  // for messages
    if (size < kTagBytes) {
      return Damaged("it is truncated: " + chunk() + " is shorter than its authentication tag");
    }
    // Only the chunk that ends the input may carry the last-chunk flag.
    bool last = batch.final && offset + size == batch.in_size;
    const uint8_t* in = batch.in.data() + offset;
    uint8_t* out = batch.out.data() + batch.out_size;
    size_t plain = size - kTagBytes;
    if (aead.Open(ChunkNonce(index, last).data(), in, plain, out)) {
      if (last && plain == 0 && index > 0) {
        return Damaged("its last chunk is empty, which only an empty file may have");
      }
      batch.out_size += plain;
      continue;
    }
    // A full chunk that opens with the other flag tells truncation and appended
    // data apart from corruption.
    if (size == kSealedChunkBytes && aead.Open(ChunkNonce(index, !last).data(), in, plain, out)) {
      return Damaged(last ? "it is truncated: it ends after " + chunk() + ", which is not the last"
                          : "there is data after its last chunk (" + chunk() + ")");
    }
    return Damaged(chunk() + " failed authentication");
  }
  return Status::Ok();
}

// Runs the STREAM over the rest of the input on `workers` threads (the caller
// being one). Each worker repeats: read the next batch (one worker at a time),
// seal or open it (in parallel with the others), write it (in input order).
class Stream {
 public:
  Stream(Input& input, int out_fd, JobControl& control, const Secret<kKeyBytes>& key, bool encrypt)
      : input_(input), out_fd_(out_fd), control_(control), key_(key), encrypt_(encrypt) {}

  Status Run(int workers) {
    std::vector<std::thread> threads;
    for (int i = 1; i < workers; ++i) threads.emplace_back([this] { Work(); });
    Work();
    for (auto& t : threads) t.join();
    std::lock_guard lock(write_mu_);
    return error_;
  }

 private:
  void Work() {
    Aead aead(key_.data(), encrypt_);
    if (!aead.ok()) {
      Fail(CryptoFailure("set up ChaCha20-Poly1305"));
      return;
    }
    Batch batch(encrypt_);
    for (;;) {
      uint64_t seq = 0;
      {
        std::lock_guard lock(read_mu_);
        if (input_done_ || failed_) return;
        Status read = control_.StopRequested() ? StopStatus() : ReadBatch(batch);
        if (!read.ok()) {
          input_done_ = true;
          Fail(std::move(read));
          return;
        }
        input_done_ = batch.final;
        seq = next_seq_++;
      }
      Status status = encrypt_ ? SealBatch(aead, batch) : OpenBatch(aead, batch);
      std::unique_lock lock(write_mu_);
      turn_.wait(lock, [&] { return next_write_ == seq || !error_.ok(); });
      if (!error_.ok()) return;
      if (status.ok()) {
        status = WriteAll(
            out_fd_, batch.out.data(), batch.out_size,
            encrypt_ ? "cannot write the encrypted file" : "cannot write the decrypted file");
      }
      if (!status.ok()) {
        error_ = std::move(status);
        failed_ = true;
        turn_.notify_all();
        return;
      }
      control_.Advance(batch.in_size);
      ++next_write_;
      turn_.notify_all();
    }
  }

  // REQUIRES: read_mu_ held.
  Status ReadBatch(Batch& batch) {
    auto n = input_.Read(batch.in.data(), batch.in.size());
    if (!n.ok()) return n.status();
    batch.in_size = *n;
    batch.first_chunk = next_chunk_;
    next_chunk_ += kChunksPerBatch;  // only the final batch holds fewer
    batch.final = *n < batch.in.size();
    if (!batch.final) {
      // A full batch ends the stream only if nothing follows it.
      auto end = input_.AtEnd();
      if (!end.ok()) return end.status();
      batch.final = *end;
    }
    return Status::Ok();
  }

  void Fail(Status status) {
    std::lock_guard lock(write_mu_);
    if (error_.ok()) error_ = std::move(status);
    failed_ = true;
    turn_.notify_all();
  }

  Input& input_;  // GUARDED_BY(read_mu_)
  const int out_fd_;
  JobControl& control_;
  const Secret<kKeyBytes>& key_;
  const bool encrypt_;

  std::mutex read_mu_;       // taken before write_mu_ when both are held
  uint64_t next_seq_ = 0;    // GUARDED_BY(read_mu_): batches are numbered in input order
  uint64_t next_chunk_ = 0;  // GUARDED_BY(read_mu_)
  bool input_done_ = false;  // GUARDED_BY(read_mu_)

  std::mutex write_mu_;
  std::condition_variable turn_;  // next_write_ or error_ changed
  uint64_t next_write_ = 0;       // GUARDED_BY(write_mu_): the batch whose turn it is
  Status error_;                  // GUARDED_BY(write_mu_): the first failure
  std::atomic<bool> failed_{false};
};

// ---- header ---------------------------------------------------------------------

struct Stanza {
  std::vector<std::string> args;  // args[0] is the recipient type
  std::vector<uint8_t> body;
};

struct Header {
  std::vector<Stanza> stanzas;
  std::string mac_input;  // the header from its first byte through "---"
  std::vector<uint8_t> mac;
  size_t size = 0;  // bytes, through the '\n' after the MAC
};

std::vector<std::string> SplitSpaces(std::string_view text) {
  std::vector<std::string> parts;
  for (;;) {
    size_t space = text.find(' ');
    parts.emplace_back(text.substr(0, space));
    if (space == std::string_view::npos) return parts;
    text.remove_prefix(space + 1);
  }
}

// age's argument strings: non-empty, printable ASCII without spaces.
bool IsArgument(std::string_view arg) {
  return !arg.empty() &&
         std::all_of(arg.begin(), arg.end(), [](char c) { return c > ' ' && c < 127; });
}

// Reads one header line into `header`; DATA_LOSS if the input ends first.
Result<std::string> HeaderLine(Input& input, size_t max, Header& header) {
  auto line = input.ReadLine(max);
  if (!line.ok()) return line.status();
  if (line->empty() || line->back() != '\n') {
    if (line->size() == max) return NotAge("a header line is too long");
    return Damaged("it is truncated inside the header");
  }
  header.size += line->size();
  if (header.size > kMaxHeaderBytes) return NotAge("the header is larger than 1 MiB");
  line->pop_back();
  return line;
}

Result<Header> ReadHeader(Input& input) {
  Header header;
  auto intro = input.ReadLine(kIntro.size());
  if (!intro.ok()) return intro.status();
  if (*intro != kIntro) {
    if (intro->empty()) return NotAge("the file is empty");
    if (intro->size() == kIntro.size() && kArmorBegin.starts_with(*intro)) {
      return NotAge("it is ASCII-armored (age -a); only binary age files are supported");
    }
    return NotAge("it does not begin with \"age-encryption.org/v1\"");
  }
  header.size = kIntro.size();
  header.mac_input = kIntro;
  for (;;) {
    auto line = HeaderLine(input, kMaxHeaderLine, header);
    if (!line.ok()) return line.status();
    if (line->starts_with("---")) {
      auto parts = SplitSpaces(*line);
      if (parts.size() != 2 || parts[0] != "---") return NotAge("malformed header end line");
      auto mac = FromBase64(parts[1]);
      if (!mac || mac->size() != 32) return NotAge("the header MAC is not 32 bytes of base64");
      header.mac_input += "---";
      header.mac = std::move(*mac);
      return header;
    }
    header.mac_input += *line + "\n";
    if (!line->starts_with("-> ")) return NotAge("malformed header line");
    Stanza stanza;
    stanza.args = SplitSpaces(std::string_view(*line).substr(3));
    if (!std::all_of(stanza.args.begin(), stanza.args.end(), IsArgument)) {
      return NotAge("malformed recipient stanza");
    }
    // The body is base64 in lines of 64 columns, ended by a shorter (maybe empty) line.
    for (;;) {
      auto body = HeaderLine(input, kColumnsPerLine + 1, header);
      if (!body.ok()) return body.status();
      header.mac_input += *body + "\n";
      auto bytes = FromBase64(*body);
      if (!bytes) return NotAge("a recipient stanza's body is not canonical base64");
      stanza.body.insert(stanza.body.end(), bytes->begin(), bytes->end());
      if (body->size() < kColumnsPerLine) break;
    }
    header.stanzas.push_back(std::move(stanza));
  }
}

struct ScryptStanza {
  std::array<uint8_t, kSaltBytes> salt{};
  int log_n = 0;
  std::vector<uint8_t> body;
};

// The header's one scrypt stanza, checked as age checks it, and its work
// factor against `max_log_n`.
Result<ScryptStanza> FindScryptStanza(const Header& header, int max_log_n) {
  if (header.stanzas.empty()) return NotAge("the header has no recipient stanzas");
  auto found = std::find_if(header.stanzas.begin(), header.stanzas.end(),
                            [](const Stanza& s) { return s.args[0] == "scrypt"; });
  if (found == header.stanzas.end()) {
    std::string type = header.stanzas[0].args[0].substr(0, 40);
    return Status::FailedPrecondition("the file is encrypted to a public key (" + type +
                                      " recipient), not a passphrase; decrypt it with age and "
                                      "the matching identity");
  }
  if (header.stanzas.size() != 1) {
    return NotAge("a passphrase (scrypt) stanza must be the header's only recipient stanza");
  }
  const Stanza& stanza = *found;
  if (stanza.args.size() != 3) return NotAge("malformed scrypt stanza");
  ScryptStanza scrypt;
  auto salt = FromBase64(stanza.args[1]);
  if (!salt || salt->size() != kSaltBytes) return NotAge("malformed scrypt salt");
  std::copy(salt->begin(), salt->end(), scrypt.salt.begin());
  const std::string& log_n = stanza.args[2];
  if (log_n[0] < '1' || log_n[0] > '9' ||
      !std::all_of(log_n.begin(), log_n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return NotAge("malformed scrypt work factor");
  }
  if (log_n.size() > 2 || std::stoi(log_n) > kMaxLogN) {
    return Status::InvalidArgument("the file's scrypt work factor, 2^" + log_n +
                                   ", is above 2^22, the most age itself accepts");
  }
  scrypt.log_n = std::stoi(log_n);
  if (scrypt.log_n > max_log_n) {
    return Status::ResourceExhausted(
        "the file asks for scrypt work factor 2^" + log_n + " (" +
        std::to_string(ScryptMemoryBytes(scrypt.log_n) >> 20) +
        " MiB of memory), above this server's limit of 2^" + std::to_string(max_log_n) +
        "; re-encrypt it with a lower work factor (age and ferry write 2^" +
        std::to_string(kScryptLogN) +
        "), or ask the administrator to raise --max-scrypt-work-factor");
  }
  if (stanza.body.size() != kFileKeyBytes + kTagBytes) return NotAge("malformed scrypt stanza");
  scrypt.body = stanza.body;
  return scrypt;
}

// ---- shared steps -----------------------------------------------------------------

Status CheckArguments(std::string_view passphrase, int threads) {
  if (passphrase.empty()) return Status::InvalidArgument("the passphrase is empty");
  if (threads < 0) return Status::InvalidArgument("the thread count cannot be negative");
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  return Status::Ok();
}

int Workers(int threads) {
  int n = threads > 0 ? threads : UsableCpus();
  return std::clamp(n, 1, kMaxThreads);
}

void ReportInputSize(int fd, JobControl& control) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    control.SetTotal(static_cast<uint64_t>(st.st_size));
  }
}

Status PayloadKey(const Secret<kFileKeyBytes>& file_key, Bytes nonce, Secret<kKeyBytes>& key) {
  return Hkdf(file_key.bytes(), nonce, "payload", key);
}

}  // namespace

uint64_t ScryptMemoryBytes(int log_n) { return (uint64_t{128} * 8) << log_n; }

Status Encrypt(int in_fd, int out_fd, std::string_view passphrase, JobControl& control,
               const EncryptOptions& options) {
  FERRY_RETURN_IF_ERROR(CheckArguments(passphrase, options.threads));
  if (options.scrypt_log_n < 1 || options.scrypt_log_n > kMaxLogN) {
    return Status::InvalidArgument("the scrypt work factor (log2 N) must be from 1 to 22");
  }
  ReportInputSize(in_fd, control);
  FERRY_RETURN_IF_ERROR(CheckStop(control));

  Secret<kFileKeyBytes> file_key;
  randombytes_buf(file_key.data(), kFileKeyBytes);
  std::array<uint8_t, kSaltBytes> salt{};
  randombytes_buf(salt.data(), salt.size());
  std::array<uint8_t, kFileKeyBytes + kTagBytes> wrapped{};
  {
    Secret<kKeyBytes> wrap_key;
    FERRY_RETURN_IF_ERROR(ScryptKey(passphrase, salt, options.scrypt_log_n, options.scrypt_memory,
                                    control, wrap_key));
    Aead aead(wrap_key.data(), /*encrypt=*/true);
    if (!aead.ok() ||
        !aead.Seal(kZeroNonce.data(), file_key.data(), kFileKeyBytes, wrapped.data())) {
      return CryptoFailure("wrap the file key");
    }
  }
  // The 32-byte body is 43 columns of base64: one short line.
  std::string header = std::string(kIntro) + "-> scrypt " + ToBase64(salt) + " " +
                       std::to_string(options.scrypt_log_n) + "\n" + ToBase64(wrapped) + "\n---";
  std::array<uint8_t, 32> mac{};
  FERRY_RETURN_IF_ERROR(HeaderMac(file_key, header, mac));
  header += " " + ToBase64(mac) + "\n";

  std::array<uint8_t, kPayloadNonceBytes> nonce{};
  randombytes_buf(nonce.data(), nonce.size());
  Secret<kKeyBytes> payload_key;
  FERRY_RETURN_IF_ERROR(PayloadKey(file_key, nonce, payload_key));
  header.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());

  FERRY_RETURN_IF_ERROR(CheckStop(control));  // scrypt may have taken a second
  FERRY_RETURN_IF_ERROR(WriteAll(out_fd, reinterpret_cast<const uint8_t*>(header.data()),
                                 header.size(), "cannot write the encrypted file"));
  Input input(in_fd, "cannot read the file to encrypt");
  return Stream(input, out_fd, control, payload_key, /*encrypt=*/true)
      .Run(Workers(options.threads));
}

Status Decrypt(int in_fd, int out_fd, std::string_view passphrase, JobControl& control,
               const DecryptOptions& options) {
  FERRY_RETURN_IF_ERROR(CheckArguments(passphrase, options.threads));
  if (options.max_scrypt_log_n < 1 || options.max_scrypt_log_n > kMaxLogN) {
    return Status::InvalidArgument("the highest scrypt work factor (log2 N) must be from 1 to 22");
  }
  ReportInputSize(in_fd, control);
  Input input(in_fd, "cannot read the age file");
  auto header = ReadHeader(input);
  if (!header.ok()) return header.status();
  auto stanza = FindScryptStanza(*header, options.max_scrypt_log_n);
  if (!stanza.ok()) return stanza.status();
  FERRY_RETURN_IF_ERROR(CheckStop(control));

  Secret<kFileKeyBytes> file_key;
  {
    Secret<kKeyBytes> wrap_key;
    FERRY_RETURN_IF_ERROR(ScryptKey(passphrase, stanza->salt, stanza->log_n, options.scrypt_memory,
                                    control, wrap_key));
    Aead aead(wrap_key.data(), /*encrypt=*/false);
    if (!aead.ok()) return CryptoFailure("set up ChaCha20-Poly1305");
    if (!aead.Open(kZeroNonce.data(), stanza->body.data(), kFileKeyBytes, file_key.data())) {
      return Status::PermissionDenied("wrong passphrase");
    }
  }
  std::array<uint8_t, 32> mac{};
  FERRY_RETURN_IF_ERROR(HeaderMac(file_key, header->mac_input, mac));
  if (CRYPTO_memcmp(mac.data(), header->mac.data(), mac.size()) != 0) {
    return Damaged("the header's MAC does not match");
  }

  std::array<uint8_t, kPayloadNonceBytes> nonce{};
  auto n = input.Read(nonce.data(), nonce.size());
  if (!n.ok()) return n.status();
  if (*n < nonce.size()) return Damaged("it is truncated: it ends before the payload");
  control.Advance(header->size + nonce.size());
  Secret<kKeyBytes> payload_key;
  FERRY_RETURN_IF_ERROR(PayloadKey(file_key, nonce, payload_key));
  FERRY_RETURN_IF_ERROR(CheckStop(control));
  return Stream(input, out_fd, control, payload_key, /*encrypt=*/false)
      .Run(Workers(options.threads));
}

}  // namespace ferry::jobs::age
