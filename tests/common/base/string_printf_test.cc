#include "common/base/string_printf.h"

#include <gtest/gtest.h>

#include <string>

namespace pixelmill {
namespace {

TEST(StringPrintfTest, FormatsShortAndLongTextWhole) {
  EXPECT_EQ(StringPrintf("%d of %s", 3, "five"), "3 of five");
  EXPECT_EQ(StringPrintf("%s", ""), "");
  // Longer than the stack buffer: nothing is cut.
  const std::string long_word(1000, 'x');
  const std::string text = StringPrintf("<%s|%05.1f>", long_word.c_str(), 2.25);
  EXPECT_EQ(text, "<" + long_word + "|002.2>");
}

}  // namespace
}  // namespace pixelmill
