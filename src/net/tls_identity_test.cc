#include "net/tls_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace ferry {
namespace {

TEST(TlsCertTest, CreatesOnceThenLoadsTheSameIdentity) {
  auto dir = std::filesystem::temp_directory_path() / ("ferry-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string cert = (dir / "c.pem").string(), key = (dir / "k.pem").string();
  bool created = false;
  auto first = LoadOrCreateSelfSigned(cert, key, &created);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(created);
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadOrCreateSelfSigned(cert, key, &created);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(*CertFingerprint(first->cert_pem), *CertFingerprint(second->cert_pem));
  EXPECT_TRUE(IsSha256Hex(*CertFingerprint(first->cert_pem)));
  EXPECT_EQ(*CertHostName(first->cert_pem), kSelfSignedName);
  std::filesystem::remove(cert);
  EXPECT_EQ(LoadOrCreateSelfSigned(cert, key, &created).status().code(), Code::kFailedPrecondition);
  std::filesystem::remove_all(dir);
}

TEST(TlsCertTest, AKeyThatDoesNotMatchTheCertificateIsNamed) {
  auto dir = std::filesystem::temp_directory_path() / ("ferry-tls2-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  bool created = false;
  ASSERT_TRUE(
      LoadOrCreateSelfSigned((dir / "a.crt").string(), (dir / "a.key").string(), &created).ok());
  ASSERT_TRUE(
      LoadOrCreateSelfSigned((dir / "b.crt").string(), (dir / "b.key").string(), &created).ok());
  EXPECT_TRUE(LoadCertPair((dir / "a.crt").string(), (dir / "a.key").string()).ok());
  auto mixed = LoadCertPair((dir / "a.crt").string(), (dir / "b.key").string());
  EXPECT_EQ(mixed.status().code(), Code::kInvalidArgument);
  EXPECT_NE(mixed.status().message().find("does not belong"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(TlsCertTest, FingerprintFormatting) {
  EXPECT_EQ(FormatFingerprint("abcdef"), "ab:cd:ef");
  EXPECT_EQ(CertFingerprint("not a cert").status().code(), Code::kInvalidArgument);
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::HexOf(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::HexOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.FinishHex(), Sha256::HexOf("abc"));
}

}  // namespace
}  // namespace ferry
