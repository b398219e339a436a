#include "common/wire/curve_keys.h"

#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

CurveKeyPair NewPair() {
  Result<CurveKeyPair> keys = NewCurveKeyPair();
  EXPECT_TRUE(keys.ok()) << keys.status().message();
  return keys.value();
}

TEST(CurveKeysTest, WritesAPairThatReadsBackWithTheSecretPrivate) {
  TempDir dir;
  const CurveKeyPair keys = NewPair();
  ASSERT_TRUE(WriteCertificates(dir.path(), "host1", keys, "test").ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "host1.key_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<CurveKeyPair> secret = ReadSecretCertificate(dir / "host1.key_secret");
  ASSERT_TRUE(secret.ok()) << secret.status().message();
  EXPECT_EQ(secret->public_key, keys.public_key);
  EXPECT_EQ(secret->secret_key, keys.secret_key);
  Result<std::string> pub = ReadPublicCertificate(dir / "host1.key");
  ASSERT_TRUE(pub.ok()) << pub.status().message();
  EXPECT_EQ(pub.value(), keys.public_key);
  EXPECT_EQ(ReadFile(dir / "host1.key").find(keys.secret_key), std::string::npos)
      << "the public certificate must not hold the secret key";
  EXPECT_EQ(KeyFingerprint(keys.public_key), keys.public_key.substr(0, 8));
}

TEST(CurveKeysTest, NeverOverwritesAndRefusesNamesThatAreNotFileNames) {
  TempDir dir;
  ASSERT_TRUE(WriteCertificates(dir.path(), "a", NewPair(), "test").ok());
  const std::string before = ReadFile(dir / "a.key_secret");
  Status again = WriteCertificates(dir.path(), "a", NewPair(), "test");
  EXPECT_EQ(again.code(), Code::kExists) << again.message();
  EXPECT_EQ(ReadFile(dir / "a.key_secret"), before);
  for (const char* name : {"", "x/y", ".hidden"}) {
    EXPECT_EQ(WriteCertificates(dir.path(), name, NewPair(), "test").code(), Code::kUsage) << name;
  }
}

// As ssh does with its keys: a secret others may read is refused, with the fix in the message.
TEST(CurveKeysTest, ASecretThatGroupOrOthersCanReadIsRefused) {
  TempDir dir;
  ASSERT_TRUE(WriteCertificates(dir.path(), "w", NewPair(), "test").ok());
  const fs::path secret = dir / "w.key_secret";
  for (mode_t mode : {0640, 0604, 0644}) {
    ASSERT_EQ(::chmod(secret.c_str(), mode), 0);
    Result<CurveKeyPair> read = ReadSecretCertificate(secret);
    ASSERT_FALSE(read.ok()) << std::oct << mode;
    EXPECT_EQ(read.status().code(), Code::kUsage);
    EXPECT_NE(read.status().message().find("chmod 600"), std::string::npos)
        << read.status().message();
  }
  ASSERT_EQ(::chmod(secret.c_str(), 0400), 0);
  EXPECT_TRUE(ReadSecretCertificate(secret).ok());
}

TEST(CurveKeysTest, MalformedCertificatesAreRefusedWithTheReason) {
  TempDir dir;
  const CurveKeyPair a = NewPair(), b = NewPair();
  struct Case {
    const char* why;
    std::string text;
    const char* expect;
  };
  const Case cases[] = {
      {"empty", "", "has no public-key"},
      {"no secret", "curve\n    public-key = \"" + a.public_key + "\"\n", "has no secret-key"},
      {"short key", "curve\n    public-key = \"abc\"\n    secret-key = \"" + a.secret_key + "\"\n",
       "not a 40-character Z85 key"},
      {"not Z85", "curve\n    public-key = \"" + std::string(40, '"') + "\"\n", "Z85"},
      {"unquoted", "curve\n    public-key = " + a.public_key + "\n", "Z85"},
      {"pair of two",
       "curve\n    public-key = \"" + b.public_key + "\"\n    secret-key = \"" + a.secret_key +
           "\"\n",
       "does not belong"},
      {"binary", std::string("\0\x01\xff", 3), "has no public-key"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.Write("bad.key_secret", c.text);
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    Result<CurveKeyPair> read = ReadSecretCertificate(path);
    ASSERT_FALSE(read.ok()) << c.why;
    EXPECT_EQ(read.status().code(), Code::kUsage) << c.why;
    EXPECT_NE(read.status().message().find(c.expect), std::string::npos)
        << c.why << ": " << read.status().message();
  }
  EXPECT_FALSE(ReadSecretCertificate(dir / "missing.key_secret").ok());
  EXPECT_FALSE(ReadPublicCertificate(dir.path()).ok()) << "a folder is not a certificate";
}

TEST(CurveKeysTest, AnAllowListIsEveryKeyFileOrNothing) {
  TempDir dir;
  const fs::path allow = dir / "workers";
  fs::create_directory(allow);
  const CurveKeyPair a = NewPair(), b = NewPair();
  ASSERT_TRUE(WriteCertificates(allow, "a", a, "test").ok());
  ASSERT_TRUE(WriteCertificates(allow, "b", b, "test").ok());
  fs::remove(allow / "b.key_secret");
  Result<std::map<std::string, std::string>> keys = ReadAllowList(allow);
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_EQ(keys->at(a.public_key), "a");
  EXPECT_EQ(keys->at(b.public_key), "b");
  // A secret file beside them is not read as an admitted key; a broken .key fails the list.
  std::string bad = (allow / "c.key").string();
  {
    std::FILE* f = std::fopen(bad.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("curve\n    public-key = \"short\"\n", f);
    std::fclose(f);
  }
  Result<std::map<std::string, std::string>> broken = ReadAllowList(allow);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("c.key"), std::string::npos)
      << broken.status().message();
  EXPECT_FALSE(ReadAllowList(dir / "nowhere").ok());
}

}  // namespace
}  // namespace pixelmill
