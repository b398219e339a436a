// --header / --headers-file checking: what is accepted, what is refused, and that no message
// ever quotes a header's value (it may be a token).
#include "coordinator/download/request_headers.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

constexpr const char* kSecret = "s3cret-t0ken";

TEST(RequestHeadersTest, AcceptsNameColonValueAndTrimsBlanks) {
  Result<std::string> h = CheckHeader("Authorization:   Bearer s3cret-t0ken  ", "--header 1");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h.value(), "Authorization: Bearer s3cret-t0ken");
  EXPECT_TRUE(CheckHeader("X-Api-Key:k", "x").ok());
  EXPECT_TRUE(CheckHeader("Accept: image/webp,\timage/*", "x").ok()) << "a tab inside is fine";
}

TEST(RequestHeadersTest, RefusesBadHeadersWithoutQuotingTheValue) {
  const std::string secret = kSecret;
  for (const std::string& bad : std::vector<std::string>{
           "Authorization " + secret, ": " + secret, "Bad Name: " + secret,
           "X-Key: a\r\nHost: evil", "X-Key: " + secret + "\n", "X-Key: \x7f" + secret,
           "Host: " + secret, "content-length: 5", "X-Key:   ", std::string("X-Key: a\0b", 10)}) {
    Result<std::string> h = CheckHeader(bad, "--header 2");
    ASSERT_FALSE(h.ok()) << "accepted: " << bad;
    EXPECT_EQ(h.status().code(), Code::kUsage);
    EXPECT_NE(h.status().message().find("--header 2: "), std::string::npos);
    EXPECT_EQ(h.status().message().find(secret), std::string::npos) << h.status().message();
  }
}

TEST(RequestHeadersTest, ReadsAFileSkippingCommentsAndBlankLinesNamingTheBadLine) {
  testing::TempDir dir;
  const std::string good = dir.Write(
      "headers.txt",
      "# tokens for the image API\r\n\r\nAuthorization: Bearer s3cret-t0ken\r\n  X-Team: photos\n");
  Result<std::vector<std::string>> headers = ReadHeadersFile(good);
  ASSERT_TRUE(headers.ok()) << headers.status().message();
  EXPECT_EQ(headers.value(),
            (std::vector<std::string>{"Authorization: Bearer s3cret-t0ken", "X-Team: photos"}));
  const std::string bad = dir.Write("bad.txt", "X-A: 1\nAuthorization Bearer s3cret-t0ken\n");
  Result<std::vector<std::string>> refused = ReadHeadersFile(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(bad + ":2: "), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find(kSecret), std::string::npos);
  Result<std::vector<std::string>> missing = ReadHeadersFile(dir.Write("x", "") + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);
}

TEST(RequestHeadersTest, HeaderListHoldsEveryHeaderInOrder) {
  HeaderList empty;
  EXPECT_EQ(empty.get(), nullptr);
  HeaderList list({"A: 1", "B: 2"});
  ASSERT_NE(list.get(), nullptr);
  EXPECT_STREQ(list.get()->data, "A: 1");
  ASSERT_NE(list.get()->next, nullptr);
  EXPECT_STREQ(list.get()->next->data, "B: 2");
  EXPECT_EQ(list.get()->next->next, nullptr);
}

}  // namespace
}  // namespace pixelmill
