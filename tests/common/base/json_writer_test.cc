#include "common/base/json_writer.h"

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

TEST(JsonWriterTest, EscapesSpecialCharacters) {
  EXPECT_EQ(Quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quoted("l1\nl2\t\r"), R"("l1\nl2\t\r")");
  EXPECT_EQ(Quoted(std::string_view("\0x", 2)), R"("\u0000x")");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Quoted("Zoë 日本 🎉"), "\"Zoë 日本 🎉\"");
  EXPECT_EQ(Quoted("a\xff"
                   "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(Quoted("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // overlong '/'
  EXPECT_EQ(Quoted("\xE2\x82"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // truncated sequence
}

TEST(JsonWriterTest, BuildsObjects) {
  std::string line = JsonObject()
                         .Add("id", int64_t{7})
                         .Add("status", "ok")
                         .Add("bytes", uint64_t{12})
                         .Add("ratio", 0.5)
                         .Add("retried", false)
                         .AddRaw("error", "null")
                         .Done();
  EXPECT_EQ(line, R"({"id":7,"status":"ok","bytes":12,"ratio":0.5,"retried":false,"error":null})");
}

}  // namespace
}  // namespace pixelmill
