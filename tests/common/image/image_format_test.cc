// Image formats by magic bytes, Content-Type and file extension, and back to extensions.
#include "common/image/image_format.h"

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(ImageFormatTest, ExtensionsRoundTrip) {
  for (OutputFormat format : {OutputFormat::kJpeg, OutputFormat::kPng, OutputFormat::kWebp,
                              OutputFormat::kGif, OutputFormat::kAvif, OutputFormat::kTiff}) {
    EXPECT_EQ(FormatFromExtension(ExtensionFor(format)), format) << ExtensionFor(format);
  }
  EXPECT_EQ(FormatFromExtension("jpg"), OutputFormat::kJpeg);
  EXPECT_EQ(FormatFromExtension("tif"), OutputFormat::kTiff);
}

TEST(ImageFormatTest, UnknownExtensionsAreUnknown) {
  for (const char* extension : {"bin", "jpeg", "JPG", "", "jpg ", "png\n"}) {
    EXPECT_EQ(FormatFromExtension(extension), OutputFormat::kUnknown) << extension;
  }
}

TEST(ImageFormatTest, SniffsMagicBytesAndContentTypes) {
  EXPECT_EQ(SniffImageFormat("\xFF\xD8\xFF\xE0"), OutputFormat::kJpeg);
  EXPECT_EQ(SniffImageFormat("GIF89a"), OutputFormat::kGif);
  EXPECT_EQ(SniffImageFormat("<svg"), OutputFormat::kUnknown);
  EXPECT_EQ(FormatFromContentType("image/PNG; charset=binary"), OutputFormat::kPng);
  EXPECT_EQ(FormatFromContentType("text/html"), OutputFormat::kUnknown);
}

}  // namespace
}  // namespace pixelmill
