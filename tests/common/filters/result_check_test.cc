// CheckFilterResult: the one check of a filter's output, for a worker's result and an in-process
// filter's alike: an image whose header parses, in the format asked for (any of JPEG, PNG, WebP
// when none was), whatever the input's format for a stand-in.
#include "common/filters/result_check.h"

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/image_bank.h"

namespace pixelmill {
namespace {

using fixture::ImageFormat;

const fixture::ImageBank& Bank() {
  static const std::optional<fixture::ImageBank> bank = [] {
    std::string error;
    EXPECT_TRUE(InitFilters().ok());
    return fixture::ImageBank::Create(16, 16, 1, error);
  }();
  EXPECT_TRUE(bank.has_value());
  return *bank;
}

FilterSpec Spec(const char* text) {
  Result<FilterSpec> spec = ParseFilterSpec(text);
  EXPECT_TRUE(spec.ok()) << text;
  return spec.ok() ? spec.value() : FilterSpec{};
}

FilterContext Asking(OutputFormat format) {
  FilterContext context;
  context.format = format;
  return context;
}

TEST(ResultCheckTest, TheFormatAskedForPasses) {
  Result<ImageHeader> png = CheckFilterResult(Spec("blur:1"), Asking(OutputFormat::kPng),
                                              Bank().Image(ImageFormat::kPng, 0));
  ASSERT_TRUE(png.ok()) << png.status().message();
  EXPECT_EQ(png->format, OutputFormat::kPng);
  EXPECT_EQ(png->width, 16u);
}

TEST(ResultCheckTest, AnotherFormatIsABadResult) {
  Result<ImageHeader> jpeg = CheckFilterResult(Spec("blur:1"), Asking(OutputFormat::kPng),
                                               Bank().Image(ImageFormat::kJpeg, 0));
  ASSERT_FALSE(jpeg.ok());
  EXPECT_EQ(jpeg.status().code(), Code::kBadResult);
  EXPECT_EQ(jpeg.status().message(), "jpg is not the format asked for");
}

// With no --format the output keeps the input's, GIF input becoming PNG: a GIF result is wrong.
TEST(ResultCheckTest, NoFormatAskedAcceptsJpegPngWebpOnly) {
  const FilterContext any = Asking(OutputFormat::kUnknown);
  for (ImageFormat format : {ImageFormat::kJpeg, ImageFormat::kPng, ImageFormat::kWebp}) {
    EXPECT_TRUE(CheckFilterResult(Spec("grayscale"), any, Bank().Image(format, 0)).ok())
        << fixture::ContentTypeOf(format);
  }
  EXPECT_FALSE(CheckFilterResult(Spec("grayscale"), any, Bank().Image(ImageFormat::kGif, 0)).ok());
}

// A stand-in passes the downloaded image on: any image format is its result, garbage is not.
TEST(ResultCheckTest, StandInsPassAnyImageButNotGarbage) {
  EXPECT_TRUE(CheckFilterResult(Spec("sleep:0"), Asking(OutputFormat::kPng),
                                Bank().Image(ImageFormat::kGif, 0))
                  .ok());
  Result<ImageHeader> garbage =
      CheckFilterResult(Spec("sleep:0"), Asking(OutputFormat::kPng), "not an image at all");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), Code::kBadResult);
  EXPECT_FALSE(garbage.status().message().empty());
}

}  // namespace
}  // namespace pixelmill
