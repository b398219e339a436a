// What libvips says while an image is filtered belongs to that image: a failure's message is its
// own reason (not earlier images' errors), and warnings about a damaged but readable image are
// counted in its output instead of printed.
#include "common/filters/vips_log.h"

#include <string>

#include <gtest/gtest.h>

#include "common/filters/filter.h"
#include "tests/support/hostile_images.h"

namespace pixelmill {
namespace {

class VipsLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(InitFilters().ok()); }

  static Result<FilterOutput> Run(const std::string& input, FilterContext context = {}) {
    return RunFilter(ParseFilterSpec("invert").value(), context, input);
  }

  const std::string damaged_icc_ = fixture::MakeDamagedIccJpeg();
};

TEST_F(VipsLogTest, ADamagedProfileIsAWarningOfThatImage) {
  Result<FilterOutput> out = Run(damaged_icc_);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_GE(out->warnings, 1u);
  EXPECT_NE(out->warning_text.find("Too many tags"), std::string::npos) << out->warning_text;
  // The next image, the same with its profile intact, has none of them.
  Result<FilterOutput> clean = Run(fixture::MakeDamagedIccJpeg(false));
  ASSERT_TRUE(clean.ok()) << clean.status().message();
  EXPECT_EQ(clean->warnings, 0u) << clean->warning_text;
}

// A PNG over libpng's size limit states its reason only as a warning: after two damaged-profile
// images its message was their errors, and alone it was empty.
TEST_F(VipsLogTest, AFailingImageCarriesItsOwnReasonOnly) {
  FilterContext unlimited;
  unlimited.max_pixels = uint64_t{1} << 60;  // so that libpng, not the header check, refuses it
  const std::string too_wide = fixture::MakePngBomb(20'000'000);
  for (int earlier : {0, 2}) {
    for (int i = 0; i < earlier; ++i) ASSERT_TRUE(Run(damaged_icc_).ok());
    Result<FilterOutput> out = Run(too_wide, unlimited);
    ASSERT_FALSE(out.ok()) << earlier;
    EXPECT_EQ(out.status().code(), Code::kDecodeError);
    EXPECT_NE(out.status().message().find("exceeds user limit"), std::string::npos)
        << earlier << ": " << out.status().message();
    EXPECT_EQ(out.status().message().find("ICC"), std::string::npos) << out.status().message();
    EXPECT_EQ(out.status().message().find("tags"), std::string::npos) << out.status().message();
  }
}

}  // namespace
}  // namespace pixelmill
