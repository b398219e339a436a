#include "coordinator/input/user_id.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/json_writer.h"

namespace pixelmill {
namespace {

TEST(UserIdTest, AStringIdIsValidUtf8UpToTheLimitWithoutControlBytes) {
  EXPECT_EQ(StringIdProblem("3f2b8c1e-9d4a-4e7b-8a21-5c6d7e8f9a0b"), "");
  EXPECT_EQ(StringIdProblem("us\xc3\xa9r"), "");
  EXPECT_EQ(StringIdProblem(std::string(kMaxStringIdBytes, 'x')), "");
  EXPECT_NE(StringIdProblem(""), "");
  EXPECT_NE(StringIdProblem(std::string(kMaxStringIdBytes + 1, 'x')), "");
  EXPECT_NE(StringIdProblem(std::string("a\0b", 3)), "");
  EXPECT_NE(StringIdProblem("a\nb"), "");
  EXPECT_NE(StringIdProblem("a\x7f"), "");
  EXPECT_EQ(StringIdProblem("a\xff"),
            "string id is not valid UTF-8");  // the C++ API's are unchecked
  EXPECT_EQ(StringIdProblem("\xe2\x82"), "string id is not valid UTF-8");
}

TEST(UserIdTest, AnIdIsItsText) {
  EXPECT_EQ(UserId::String("42"), UserId(42));
  EXPECT_EQ(UserId::String("-5"), UserId(-5));
  EXPECT_NE(UserId::String("042"), UserId(42));
  EXPECT_NE(UserId::String("-0"), UserId(0));
  EXPECT_NE(UserId::String("+4"), UserId(4));
  EXPECT_EQ(IdKey(UserId::String("42")), IdKey(UserId(42)));
  EXPECT_EQ(IdHash(UserId::String("42")), IdHash(UserId(42)));
  EXPECT_EQ(IdText(UserId(-17)), "-17");
  EXPECT_EQ(IdText(UserId::String("abc")), "abc");
  EXPECT_NE(IdKey(UserId::String("abc")), IdKey(UserId::String("abd")));
}

TEST(UserIdTest, FileStemsAreSafeAndDistinct) {
  EXPECT_EQ(IdFileStem(UserId(-17)), "-17");
  EXPECT_EQ(IdFileStem(UserId::String("3f2b8c1e-9d4a-4e7b-8a21-5c6d7e8f9a0b")),
            "3f2b8c1e-9d4a-4e7b-8a21-5c6d7e8f9a0b");
  EXPECT_EQ(IdFileStem(UserId::String("..")), "%2E.");
  EXPECT_EQ(IdFileStem(UserId::String(".hidden")), "%2Ehidden");
  EXPECT_EQ(IdFileStem(UserId::String("a/b\\c")), "a%2Fb%5Cc");
  EXPECT_EQ(IdFileStem(UserId::String("100%")), "100%25");
  EXPECT_EQ(IdFileStem(UserId::String("us\xc3\xa9r")), "us%C3%A9r");
  EXPECT_EQ(IdFileStem(UserId::String(" ")), "%20");
  // The longest id, all escaped, still fits a file name (255 bytes) with its extension.
  EXPECT_EQ(IdFileStem(UserId::String(std::string(kMaxStringIdBytes, '/'))).size(),
            3 * kMaxStringIdBytes);
  // Escaping is one to one: distinct ids, distinct stems, even where they spell each other.
  const std::vector<std::string> ids = {"a%2Fb", "a/b", "%2E.", "..", ".", "%2E", "A", "a"};
  std::set<std::string> stems;
  for (const std::string& id : ids) {
    const std::string stem = IdFileStem(UserId::String(id));
    EXPECT_TRUE(stems.insert(stem).second) << id << " -> " << stem;
    EXPECT_EQ(stem.find('/'), std::string::npos) << stem;
    EXPECT_NE(stem[0], '.') << stem;
  }
}

TEST(UserIdTest, AnIdIsWrittenAsTheInputWroteIt) {
  JsonObject a;
  AddId(a, "id", UserId(42));
  EXPECT_EQ(a.Done(), R"({"id":42})");
  JsonObject b;
  AddId(b, "id", UserId::String("42"));
  EXPECT_EQ(b.Done(), R"({"id":"42"})");
  OwnedUserId owned(UserId::String("x\"y"));
  JsonObject c;
  AddId(c, "id", owned.view());
  EXPECT_EQ(c.Done(), R"({"id":"x\"y"})");
}

}  // namespace
}  // namespace pixelmill
