#include "jobs/age.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "core/unique_fd.h"
#include "jobs/job_control.h"
#include "jobs/memory_budget.h"
#include "tests/support/pty.h"

namespace ferry::jobs::age {
namespace {

using ::ferry::testing::Dialog;
using ::ferry::testing::RunOnPty;

constexpr char kAge[] = "/usr/bin/age";
constexpr char kAgeKeygen[] = "/usr/bin/age-keygen";
constexpr char kPass[] = "correct horse battery staple";
constexpr size_t kChunk = 64 * 1024;
constexpr size_t kSealedChunk = kChunk + 16;

#define ASSERT_OK(expr)                    \
  do {                                     \
    ::ferry::Status s_ = (expr);           \
    ASSERT_TRUE(s_.ok()) << s_.ToString(); \
  } while (0)

EncryptOptions Fast(int threads = 2) { return {.scrypt_log_n = 10, .threads = threads}; }

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, size - i));
  }
  return out;
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Bytes of an age file before the payload nonce.
size_t HeaderSize(const std::string& file) {
  size_t footer = file.find("\n--- ");
  return footer == std::string::npos ? 0 : footer + 5 + 43 + 1;
}

// A JobControl that asks to stop once `limit` bytes were reported done.
class StopAfter final : public JobControl {
 public:
  explicit StopAfter(uint64_t limit) : limit_(limit) {}
  void SetTotal(uint64_t) override {}
  void Advance(uint64_t bytes) override { done_ += bytes; }
  bool StopRequested() const override { return done_ >= limit_; }
  uint64_t done() const { return done_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> done_{0};
};

class AgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    char pattern[] = "/tmp/ferry-age-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  Status EncryptFile(const std::string& in, const std::string& out, JobControl& control,
                     const EncryptOptions& options = Fast(), std::string_view pass = kPass) {
    UniqueFd in_fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd out_fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!in_fd.valid() || !out_fd.valid()) return Status::Internal("cannot open test files");
    return Encrypt(in_fd.get(), out_fd.get(), pass, control, options);
  }
  Status DecryptFile(const std::string& in, const std::string& out, JobControl& control,
                     int threads = 2, std::string_view pass = kPass) {
    UniqueFd in_fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd out_fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!in_fd.valid() || !out_fd.valid()) return Status::Internal("cannot open test files");
    return Decrypt(in_fd.get(), out_fd.get(), pass, control, {.threads = threads});
  }

  // `plaintext` as an age file.
  std::string Seal(std::string_view plaintext, const EncryptOptions& options = Fast()) {
    WriteFile(Path("seal.in"), plaintext);
    CountingJobControl control;
    Status s = EncryptFile(Path("seal.in"), Path("seal.age"), control, options);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ReadFile(Path("seal.age"));
  }
  // Decrypts the age file `file`; what was written goes to `*plaintext`.
  Status Open(std::string_view file, std::string* plaintext = nullptr, int threads = 2,
              std::string_view pass = kPass) {
    WriteFile(Path("open.age"), file);
    CountingJobControl control;
    Status s = DecryptFile(Path("open.age"), Path("open.out"), control, threads, pass);
    if (plaintext) *plaintext = ReadFile(Path("open.out"));
    return s;
  }

  std::string dir_;
};

// ---- round trips ----------------------------------------------------------------

class AgeRoundTripTest : public AgeTest,
                         public ::testing::WithParamInterface<std::tuple<size_t, int>> {};

TEST_P(AgeRoundTripTest, DecryptsToTheSameBytesAndReportsProgress) {
  auto [size, threads] = GetParam();
  std::string plain = RandomBytes(size, size + 1);
  WriteFile(Path("plain"), plain);
  CountingJobControl enc;
  ASSERT_OK(EncryptFile(Path("plain"), Path("sealed"), enc, Fast(threads)));
  EXPECT_EQ(enc.total(), size);
  EXPECT_EQ(enc.done(), size);

  std::string sealed = ReadFile(Path("sealed"));
  size_t chunks = size == 0 ? 1 : (size + kChunk - 1) / kChunk;
  ASSERT_GT(HeaderSize(sealed), 0u);
  EXPECT_EQ(sealed.size(), HeaderSize(sealed) + 16 + size + 16 * chunks);

  CountingJobControl dec;
  ASSERT_OK(DecryptFile(Path("sealed"), Path("out"), dec, threads));
  EXPECT_EQ(dec.total(), sealed.size());
  EXPECT_EQ(dec.done(), sealed.size());
  EXPECT_TRUE(ReadFile(Path("out")) == plain);
}

INSTANTIATE_TEST_SUITE_P(Age, AgeRoundTripTest,
                         ::testing::Combine(::testing::Values(0, 1, kChunk - 1, kChunk, kChunk + 1,
                                                              3 * kChunk, 5 * 1024 * 1024 + 12345),
                                            ::testing::Values(1, 3)));

TEST_F(AgeTest, StreamsThroughPipesWithShortReads) {
  std::string plain = RandomBytes(20 * kChunk + 777, 7);
  // Feeds `data` into a pipe in uneven pieces; returns the read end.
  auto feed = [](const std::string& data, std::thread& writer) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    writer = std::thread([w = UniqueFd(fds[1]), &data] {
      for (size_t at = 0, piece = 1; at < data.size(); at += piece, piece = piece * 7 % 9001 + 1) {
        piece = std::min(piece, data.size() - at);
        if (::write(w.get(), data.data() + at, piece) != static_cast<ssize_t>(piece)) return;
      }
    });
    return UniqueFd(fds[0]);
  };

  std::thread writer;
  UniqueFd in = feed(plain, writer);
  UniqueFd sealed_fd(::open(Path("sealed").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  CountingJobControl enc;
  Status s = Encrypt(in.get(), sealed_fd.get(), kPass, enc, Fast(3));
  writer.join();
  ASSERT_OK(s);
  EXPECT_EQ(enc.total(), 0u);  // a pipe has no size
  EXPECT_EQ(enc.done(), plain.size());

  std::string sealed = ReadFile(Path("sealed"));
  in = feed(sealed, writer);
  int out_fds[2];
  ASSERT_EQ(::pipe2(out_fds, O_CLOEXEC), 0);
  UniqueFd out_read(out_fds[0]);
  std::string decrypted;
  std::thread reader([&decrypted, r = out_read.get()] {
    char buf[4096];
    for (ssize_t n; (n = ::read(r, buf, sizeof buf)) > 0;) decrypted.append(buf, n);
  });
  {
    UniqueFd out_write(out_fds[1]);
    CountingJobControl dec;
    s = Decrypt(in.get(), out_write.get(), kPass, dec, {.threads = 3});
  }
  writer.join();
  reader.join();
  ASSERT_OK(s);
  EXPECT_TRUE(decrypted == plain);
}

// ---- refusals ----------------------------------------------------------------------

TEST_F(AgeTest, RefusesEmptyPassphraseAndBadOptions) {
  WriteFile(Path("plain"), "x");
  CountingJobControl c;
  EXPECT_EQ(EncryptFile(Path("plain"), Path("a"), c, Fast(), "").code(), Code::kInvalidArgument);
  EXPECT_EQ(EncryptFile(Path("plain"), Path("a"), c, {.scrypt_log_n = 0}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(EncryptFile(Path("plain"), Path("a"), c, {.scrypt_log_n = 23}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(EncryptFile(Path("plain"), Path("a"), c, {.scrypt_log_n = 10, .threads = -1}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Open(Seal("x"), nullptr, 2, "").code(), Code::kInvalidArgument);
}

TEST_F(AgeTest, WrongPassphraseIsPermissionDeniedAndWritesNothing) {
  std::string out = "untouched";
  Status s = Open(Seal(RandomBytes(1000, 1)), &out, 2, "wrong horse");
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(s.message(), "wrong passphrase");
  EXPECT_EQ(out, "");
}

TEST_F(AgeTest, NonAgeInputIsInvalidArgument) {
  for (std::string input : {std::string(), std::string("hello, world\n"),
                            std::string("age-encryption.org/v2\n-> scrypt x 10\n"),
                            std::string("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n")}) {
    Status s = Open(input);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << input;
    EXPECT_TRUE(s.message().starts_with("not an age file: ")) << s.message();
  }
  EXPECT_NE(Open("-----BEGIN AGE ENCRYPTED FILE-----\n").message().find("armored"),
            std::string::npos);
}

TEST_F(AgeTest, NoHeaderByteCanBeFlippedUnnoticed) {
  std::string sealed = Seal(RandomBytes(1000, 2));
  size_t header = HeaderSize(sealed);
  size_t mac_start = header - 44;
  for (size_t i = 0; i < header; ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      std::string out = "untouched";
      Status s = Open(bad, &out);
      ASSERT_FALSE(s.ok()) << "byte " << i;
      EXPECT_EQ(out, "") << "byte " << i << ": plaintext written before the header was verified";
      // A changed salt or wrapped key is indistinguishable from a wrong
      // passphrase; a changed stanza type reads as another recipient type.
      EXPECT_TRUE(s.code() == Code::kInvalidArgument || s.code() == Code::kDataLoss ||
                  s.code() == Code::kPermissionDenied || s.code() == Code::kFailedPrecondition)
          << "byte " << i << ": " << s.ToString();
      if (i >= mac_start) {
        EXPECT_TRUE(s.code() == Code::kDataLoss || s.code() == Code::kInvalidArgument)
            << "byte " << i << ": " << s.ToString();
      }
    }
  }
}

TEST_F(AgeTest, FlippedPayloadBytesAreDataLoss) {
  std::string plain = RandomBytes(3 * kChunk + 100, 3);
  std::string sealed = Seal(plain);
  size_t payload = HeaderSize(sealed);
  for (size_t offset : {payload, payload + 16, payload + 16 + kChunk, payload + 16 + kSealedChunk,
                        payload + 16 + 2 * kSealedChunk + 50, sealed.size() - 1}) {
    for (int threads : {1, 3}) {
      std::string bad = sealed;
      bad[offset] = static_cast<char>(bad[offset] ^ 0x20);
      Status s = Open(bad, nullptr, threads);
      EXPECT_EQ(s.code(), Code::kDataLoss) << "offset " << offset << ": " << s.ToString();
      EXPECT_NE(s.message().find("failed authentication"), std::string::npos) << s.message();
    }
  }
  // The first damaged chunk is the one reported, whichever thread reaches it.
  std::string bad = sealed;
  bad[payload + 16 + kSealedChunk + 5] ^= 1;
  bad[payload + 16 + 2 * kSealedChunk + 5] ^= 1;
  EXPECT_EQ(Open(bad, nullptr, 3).message(),
            "the file is damaged or was tampered with: chunk 1 failed authentication");
}

TEST_F(AgeTest, TruncationIsDataLoss) {
  std::string ragged = Seal(RandomBytes(3 * kChunk + 100, 4));
  std::string aligned = Seal(RandomBytes(3 * kChunk, 5));
  size_t header = HeaderSize(ragged);
  struct Case {
    std::string file;
    const char* says;
  };
  for (const Case& c : {
           Case{ragged.substr(0, ragged.size() - 1), "chunk 3 failed authentication"},
           Case{ragged.substr(0, ragged.size() - 116), "truncated"},  // the whole last chunk
           Case{ragged.substr(0, ragged.size() - 110), "truncated"},  // 6 bytes of it left
           Case{aligned.substr(0, aligned.size() - kSealedChunk), "truncated"},
           Case{aligned.substr(0, aligned.size() - 1), "chunk 2 failed authentication"},
           Case{ragged.substr(0, header + 16), "truncated"},
           Case{ragged.substr(0, header + 7), "truncated"},
           Case{ragged.substr(0, header), "truncated"},
           Case{ragged.substr(0, header - 1), ""},  // the MAC line loses its newline
           Case{ragged.substr(0, 40), "truncated"},
       }) {
    for (int threads : {1, 3}) {
      Status s = Open(c.file, nullptr, threads);
      EXPECT_EQ(s.code(), Code::kDataLoss) << c.file.size() << ": " << s.ToString();
      EXPECT_NE(s.message().find(c.says), std::string::npos) << s.message();
    }
  }
}

TEST_F(AgeTest, DataAfterTheLastChunkIsDataLoss) {
  std::string ragged = Seal(RandomBytes(kChunk + 100, 6));
  std::string aligned = Seal(RandomBytes(2 * kChunk, 7));
  std::string last_chunk = aligned.substr(aligned.size() - kSealedChunk);
  for (const std::string& file :
       {ragged + "x", aligned + "x", aligned + last_chunk, aligned + aligned.substr(0, 200)}) {
    Status s = Open(file);
    EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
  }
  EXPECT_NE(Open(aligned + "x").message().find("data after its last chunk"), std::string::npos);
  EXPECT_NE(Open(aligned + last_chunk).message().find("data after its last chunk"),
            std::string::npos);
}

TEST_F(AgeTest, StopRequestMidStreamIsCancelled) {
  std::string plain = RandomBytes(8 * 1024 * 1024, 8);
  WriteFile(Path("plain"), plain);
  StopAfter enc(1024 * 1024);
  EXPECT_EQ(EncryptFile(Path("plain"), Path("sealed"), enc, Fast(3)).code(), Code::kCancelled);
  EXPECT_LT(enc.done(), 4u * 1024 * 1024);  // stopped within a few batches

  CountingJobControl c;
  ASSERT_OK(EncryptFile(Path("plain"), Path("sealed"), c, Fast(3)));
  StopAfter dec(1024 * 1024);
  EXPECT_EQ(DecryptFile(Path("sealed"), Path("out"), dec, 3).code(), Code::kCancelled);
  EXPECT_LT(dec.done(), 4u * 1024 * 1024);

  StopAfter at_once(0);  // before scrypt runs
  EXPECT_EQ(EncryptFile(Path("plain"), Path("sealed"), at_once).code(), Code::kCancelled);
  EXPECT_EQ(ReadFile(Path("sealed")), "");
}

// ---- files forged with an independent writer ---------------------------------------

// An age writer built only on libsodium, sharing no code with age.cc, that
// writes whatever stanzas and chunks a test asks for, valid or not.
class Forger {
 public:
  struct Chunk {
    std::string plaintext;
    uint64_t counter;
    bool last;
  };

  Forger() { randombytes_buf(file_key_.data(), file_key_.size()); }

  static std::string Base64(std::string_view bytes) {
    std::string out(
        sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), U(bytes.data()), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    out.resize(std::strlen(out.c_str()));
    return out;
  }

  // "-> scrypt SALT LOGN" and its body, wrapping the file key for `pass`.
  std::string ScryptStanza(std::string_view pass, int log_n = 10) const {
    std::string salt = RandomBytes(16, 99);
    std::string full_salt = "age-encryption.org/v1/scrypt" + salt;
    std::array<uint8_t, 32> key{};
    EXPECT_EQ(crypto_pwhash_scryptsalsa208sha256_ll(
                  U(pass.data()), pass.size(), U(full_salt.data()), full_salt.size(),
                  uint64_t{1} << log_n, 8, 1, key.data(), key.size()),
              0);
    std::string body = SealChunk(S(key), std::string(12, '\0'), S(file_key_));
    return "-> scrypt " + Base64(salt) + " " + std::to_string(log_n) + "\n" + Base64(body) + "\n";
  }

  // The file: intro, `stanzas`, the MAC line, a payload nonce and `chunks`.
  std::string File(const std::string& stanzas, const std::vector<Chunk>& chunks,
                   bool wrong_mac = false) const {
    std::string header = "age-encryption.org/v1\n" + stanzas + "---";
    std::string mac = Hmac(Hkdf(S(file_key_), "", "header"), wrong_mac ? header + " " : header);
    std::string nonce = RandomBytes(16, 98);
    std::string out = header + " " + Base64(mac) + "\n" + nonce;
    std::string key = Hkdf(S(file_key_), nonce, "payload");
    for (const Chunk& c : chunks) {
      std::string chunk_nonce(12, '\0');
      for (int i = 0; i < 8; ++i) chunk_nonce[10 - i] = static_cast<char>(c.counter >> (8 * i));
      chunk_nonce[11] = c.last ? 1 : 0;
      out += SealChunk(key, chunk_nonce, c.plaintext);
    }
    return out;
  }

 private:
  static const uint8_t* U(const char* p) { return reinterpret_cast<const uint8_t*>(p); }
  template <size_t N>
  static std::string S(const std::array<uint8_t, N>& a) {
    return std::string(reinterpret_cast<const char*>(a.data()), N);
  }
  static std::string Hmac(std::string_view key, std::string_view data) {
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, U(key.data()), key.size());
    crypto_auth_hmacsha256_update(&state, U(data.data()), data.size());
    std::array<uint8_t, 32> mac{};
    crypto_auth_hmacsha256_final(&state, mac.data());
    return S(mac);
  }
  // RFC 5869 with one block of output; an empty salt is an empty HMAC key,
  // which HMAC pads to the same zero block as HashLen zero bytes.
  static std::string Hkdf(std::string_view ikm, std::string_view salt, std::string_view info) {
    return Hmac(Hmac(salt, ikm), std::string(info) + '\x01');
  }
  static std::string SealChunk(const std::string& key, const std::string& nonce,
                               const std::string& plaintext) {
    std::string out(plaintext.size() + 16, '\0');
    unsigned long long size = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(reinterpret_cast<uint8_t*>(out.data()), &size,
                                              U(plaintext.data()), plaintext.size(), nullptr, 0,
                                              nullptr, U(nonce.data()), U(key.data()));
    return out;
  }

  std::array<uint8_t, 16> file_key_{};
};

using AgeForgedTest = AgeTest;

TEST_F(AgeForgedTest, ValidForgedFilesDecrypt) {
  Forger f;
  std::string a = RandomBytes(kChunk, 1), b = RandomBytes(kChunk, 2), c = RandomBytes(100, 3);
  std::string out;
  ASSERT_OK(
      Open(f.File(f.ScryptStanza(kPass), {{a, 0, false}, {b, 1, false}, {c, 2, true}}), &out));
  EXPECT_TRUE(out == a + b + c);
  ASSERT_OK(Open(f.File(f.ScryptStanza(kPass), {{a, 0, false}, {b, 1, true}}), &out));
  EXPECT_TRUE(out == a + b);  // a full last chunk carries the flag
  ASSERT_OK(Open(f.File(f.ScryptStanza(kPass), {{"", 0, true}}), &out));
  EXPECT_EQ(out, "");
}

TEST_F(AgeForgedTest, MalformedStreamsAreDataLoss) {
  Forger f;
  std::string stanza = f.ScryptStanza(kPass);
  std::string a = RandomBytes(kChunk, 1), b = RandomBytes(kChunk, 2), c = RandomBytes(100, 3);
  struct Case {
    std::vector<Forger::Chunk> chunks;
    const char* says;
  };
  for (const Case& k : {
           Case{{{a, 0, false}, {"", 1, true}}, "last chunk is empty"},
           Case{{{b, 1, false}, {a, 0, false}, {c, 2, true}}, "chunk 0 failed"},
           Case{{{a, 0, false}, {c, 1, false}}, "chunk 1 failed"},  // no last flag
           Case{{{a, 0, true}, {b, 1, true}}, "data after its last chunk (chunk 0)"},
           Case{{{c, 0, false}, {a, 1, true}}, "chunk 0 failed"},  // short chunk before the end
           Case{{}, "nothing follows the header"},
       }) {
    for (int threads : {1, 3}) {
      Status s = Open(f.File(stanza, k.chunks), nullptr, threads);
      EXPECT_EQ(s.code(), Code::kDataLoss) << s.ToString();
      EXPECT_NE(s.message().find(k.says), std::string::npos) << s.message();
    }
  }
  Status s = Open(f.File(stanza, {{c, 0, true}}, /*wrong_mac=*/true));
  EXPECT_EQ(s.code(), Code::kDataLoss);
  EXPECT_NE(s.message().find("MAC"), std::string::npos) << s.message();
}

TEST_F(AgeForgedTest, PublicKeyRecipientsAreFailedPrecondition) {
  Forger f;
  std::string key = Forger::Base64(RandomBytes(32, 5));
  std::string body = Forger::Base64(RandomBytes(32, 6));
  for (std::string type : {"X25519 " + key, "ssh-ed25519 AbCd " + key}) {
    Status s = Open(f.File("-> " + type + "\n" + body + "\n", {{"x", 0, true}}));
    EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
    std::string name = type.substr(0, type.find(' '));
    EXPECT_NE(s.message().find("public key (" + name + " recipient), not a passphrase"),
              std::string::npos)
        << s.message();
  }
}

TEST_F(AgeForgedTest, MalformedHeadersAreInvalidArgument) {
  Forger f;
  std::string scrypt = f.ScryptStanza(kPass);
  std::string salt = Forger::Base64(RandomBytes(16, 7));
  std::string body = Forger::Base64(RandomBytes(32, 8));
  std::string x25519 = "-> X25519 " + body + "\n" + body + "\n";
  auto with_log_n = [&](const std::string& log_n) {
    return "-> scrypt " + salt + " " + log_n + "\n" + body + "\n";
  };
  std::string line64 = Forger::Base64(RandomBytes(48, 9));
  struct Case {
    std::string stanzas;
    const char* says;
  };
  for (const Case& c : {
           Case{scrypt + x25519, "only recipient stanza"},
           Case{x25519 + scrypt, "only recipient stanza"},
           Case{scrypt + scrypt, "only recipient stanza"},
           Case{"", "no recipient stanzas"},
           Case{with_log_n("23"), "above 2^22"},
           Case{with_log_n("99999999999999999999"), "above 2^22"},
           Case{with_log_n("0"), "work factor"},
           Case{with_log_n("010"), "work factor"},
           Case{with_log_n("-1"), "work factor"},
           Case{"-> scrypt " + salt + "\n" + body + "\n", "scrypt stanza"},
           Case{"-> scrypt " + salt + " 10 extra\n" + body + "\n", "scrypt stanza"},
           Case{"-> scrypt " + salt + "== 10\n" + body + "\n", "salt"},
           Case{"-> scrypt " + salt.substr(0, 21) + "B 10\n" + body + "\n", "salt"},  // low bits
           Case{"-> scrypt " + salt + " 10\n" + body + "=\n", "base64"},
           Case{"-> scrypt " + salt + " 10\n" + line64 + "\n\n", "scrypt stanza"},  // 48 bytes
           Case{"-> scrypt " + salt + " 10\n" + line64 + "\n", "base64"},           // no short line
           Case{"-> scrypt " + salt + " 10\r\n" + body + "\n", "stanza"},
           Case{"->  scrypt " + salt + " 10\n" + body + "\n", "stanza"},
           Case{"-> scrypt " + salt + " 10\n" + line64 + "A\n", "too long"},
           Case{"junk\n", "malformed header line"},
       }) {
    Status s = Open(f.File(c.stanzas, {{"x", 0, true}}));
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.stanzas << s.ToString();
    EXPECT_NE(s.message().find(c.says), std::string::npos) << c.stanzas << s.message();
  }
}

// ---- work factor and memory limits -------------------------------------------------

class AgeLimitsTest : public AgeTest {
 protected:
  Status OpenWith(std::string_view file, const DecryptOptions& options,
                  JobControl* control = nullptr) {
    WriteFile(Path("limits.age"), file);
    UniqueFd in_fd(::open(Path("limits.age").c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd out_fd(
        ::open(Path("limits.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    CountingJobControl counting;
    return Decrypt(in_fd.get(), out_fd.get(), kPass, control ? *control : counting, options);
  }
};

TEST_F(AgeLimitsTest, WorkFactorAboveTheLimitIsRefusedBeforeScrypt) {
  Forger f;
  std::string salt = Forger::Base64(RandomBytes(16, 7));
  std::string body = Forger::Base64(RandomBytes(32, 8));
  // 2^22 would take 4 GiB and seconds; the refusal comes from the header alone.
  std::string file = f.File("-> scrypt " + salt + " 22\n" + body + "\n", {{"x", 0, true}});
  MemoryBudget budget(1, "--unused");  // scrypt reaching it would fail differently
  auto started = std::chrono::steady_clock::now();
  Status s = OpenWith(file, {.threads = 1, .scrypt_memory = &budget});
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("work factor 2^22 (4096 MiB"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("limit of 2^18"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--max-scrypt-work-factor"), std::string::npos) << s.message();
  EXPECT_EQ(ReadFile(Path("limits.out")), "");
}

TEST_F(AgeLimitsTest, TheLimitIsWhatTheAdministratorSets) {
  Forger f;
  std::string file = f.File(f.ScryptStanza(kPass, 12), {{"hello", 0, true}});
  Status low = OpenWith(file, {.threads = 1, .max_scrypt_log_n = 11});
  EXPECT_EQ(low.code(), Code::kResourceExhausted) << low.ToString();
  EXPECT_NE(low.message().find("2^12"), std::string::npos) << low.message();
  EXPECT_NE(low.message().find("limit of 2^11"), std::string::npos) << low.message();
  ASSERT_OK(OpenWith(file, {.threads = 1, .max_scrypt_log_n = 12}));
  EXPECT_EQ(ReadFile(Path("limits.out")), "hello");
  EXPECT_EQ(OpenWith(file, {.threads = 1, .max_scrypt_log_n = 23}).code(), Code::kInvalidArgument);
}

TEST_F(AgeLimitsTest, ScryptLargerThanTheWholeBudgetIsRefused) {
  Forger f;
  std::string file = f.File(f.ScryptStanza(kPass, 12), {{"hello", 0, true}});
  EXPECT_EQ(ScryptMemoryBytes(12), 4u << 20);
  MemoryBudget budget(ScryptMemoryBytes(12) - 1, "--scrypt-memory-mib");
  Status s = OpenWith(file, {.threads = 1, .max_scrypt_log_n = 12, .scrypt_memory = &budget});
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("scrypt with work factor 2^12 needs 4 MiB"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("--scrypt-memory-mib"), std::string::npos) << s.message();
}

TEST_F(AgeLimitsTest, ScryptWaitsForTheBudgetAndCanBeCancelledWhileWaiting) {
  Forger f;
  std::string file = f.File(f.ScryptStanza(kPass, 12), {{"hello", 0, true}});
  MemoryBudget budget(ScryptMemoryBytes(12), "--scrypt-memory-mib");
  CountingJobControl holder;
  auto held = budget.Acquire(budget.capacity(), "the test", holder);
  ASSERT_TRUE(held.ok());
  std::atomic<bool> finished{false};
  Status s;
  std::thread decrypt([&] {
    s = OpenWith(file, {.threads = 1, .max_scrypt_log_n = 12, .scrypt_memory = &budget});
    finished = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(finished) << "scrypt ran although the budget was spent";
  *held = MemoryBudget::Lease();  // give it back
  decrypt.join();
  ASSERT_OK(s);
  EXPECT_EQ(ReadFile(Path("limits.out")), "hello");
  EXPECT_EQ(budget.in_use(), 0u);

  held = budget.Acquire(budget.capacity(), "the test", holder);
  ASSERT_TRUE(held.ok());
  CountingJobControl stopped;
  stopped.RequestStop();
  Status cancelled =
      OpenWith(file, {.threads = 1, .max_scrypt_log_n = 12, .scrypt_memory = &budget}, &stopped);
  EXPECT_EQ(cancelled.code(), Code::kCancelled) << cancelled.ToString();
}

// ---- interoperability with the real age ------------------------------------------

class AgeInteropTest : public AgeTest {
 protected:
  void SetUp() override {
    AgeTest::SetUp();
    ASSERT_EQ(::access(kAge, X_OK), 0) << kAge << " is missing: install the Debian package age";
  }
};

TEST_F(AgeInteropTest, AgeDecryptsWhatFerryEncrypts) {
  struct Case {
    size_t size;
    int log_n;
  };
  for (Case c : {Case{1024 * 1024 + 7, 18}, Case{0, 10}, Case{2 * kChunk, 10}}) {
    std::string plain = RandomBytes(c.size, c.size);
    WriteFile(Path("plain"), plain);
    CountingJobControl control;
    ASSERT_OK(EncryptFile(Path("plain"), Path("sealed.age"), control,
                          {.scrypt_log_n = c.log_n, .threads = 2}));
    std::filesystem::remove(Path("out"));  // age creates it only once it has output
    std::string transcript;
    int code = RunOnPty({kAge, "-d", "-o", Path("out"), Path("sealed.age")},
                        {{"passphrase", kPass}}, &transcript);
    ASSERT_EQ(code, 0) << transcript;
    EXPECT_TRUE(ReadFile(Path("out")) == plain) << "size " << c.size;
  }
}

TEST_F(AgeInteropTest, AgeRefusesFerryFileWithWrongPassphrase) {
  WriteFile(Path("sealed.age"), Seal("secret"));
  std::string transcript;
  int code = RunOnPty({kAge, "-d", "-o", Path("out"), Path("sealed.age")},
                      {{"passphrase", "not it"}}, &transcript);
  EXPECT_NE(code, 0) << transcript;
}

TEST_F(AgeInteropTest, FerryDecryptsWhatAgeEncrypts) {
  // One file only: age -p always uses work factor 2^18, ~1.5 s here on each side.
  // Two full chunks, so age's last chunk is a full one carrying the flag.
  std::string plain = RandomBytes(2 * kChunk, 11);
  WriteFile(Path("plain"), plain);
  std::string transcript;
  int code = RunOnPty({kAge, "-p", "-o", Path("sealed.age"), Path("plain")},
                      {{"Enter passphrase", kPass}, {"Confirm passphrase", kPass}}, &transcript);
  ASSERT_EQ(code, 0) << transcript;
  EXPECT_NE(ReadFile(Path("sealed.age")).find("\n-> scrypt "), std::string::npos);
  CountingJobControl control;
  ASSERT_OK(DecryptFile(Path("sealed.age"), Path("out"), control));
  EXPECT_TRUE(ReadFile(Path("out")) == plain);
}

TEST_F(AgeInteropTest, PublicKeyFileIsFailedPrecondition) {
  std::string transcript;
  ASSERT_EQ(RunOnPty({kAgeKeygen, "-o", Path("key.txt")}, {}, &transcript), 0) << transcript;
  std::string key = ReadFile(Path("key.txt"));
  size_t at = key.find("public key: ");
  ASSERT_NE(at, std::string::npos) << key;
  std::string recipient = key.substr(at + 12, key.find('\n', at) - at - 12);
  WriteFile(Path("plain"), "for a key holder");
  ASSERT_EQ(
      RunOnPty({kAge, "-r", recipient, "-o", Path("sealed.age"), Path("plain")}, {}, &transcript),
      0)
      << transcript;
  CountingJobControl control;
  Status s = DecryptFile(Path("sealed.age"), Path("out"), control);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("(X25519 recipient), not a passphrase"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace ferry::jobs::age
