// The libvips filters on real images: output size and format right, pixels moved the expected
// way, and every hostile image class refused with its code (or handled correctly).
#include "common/filters/vips_filters.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "tests/support/hostile_images.h"

namespace pixelmill {
namespace {

using fixture::HostileKind;
using vips::VImage;

class VipsFiltersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(InitFilters().ok());
    hostile_ = new std::vector<std::string>(fixture::MakeHostileImages());
  }
  static void TearDownTestSuite() { delete hostile_; }

  // 64 x 48 colour noise (lots of high-frequency detail), encoded as `suffix`.
  static std::string Noise(const char* suffix = ".png") {
    std::vector<VImage> bands;
    for (int b = 0; b < 3; ++b) {
      bands.push_back(VImage::gaussnoise(
          64, 48, VImage::option()->set("mean", 128.0)->set("sigma", 50.0 + 5 * b)));
    }
    VImage image = VImage::bandjoin(bands)
                       .cast(VIPS_FORMAT_UCHAR)
                       .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    return Encode(image, suffix);
  }
  static std::string Encode(const VImage& image, const char* suffix) {
    void* buf = nullptr;
    size_t size = 0;
    image.write_to_buffer(suffix, &buf, &size);
    std::string out(static_cast<const char*>(buf), size);
    g_free(buf);
    return out;
  }
  static Result<FilterOutput> Run(const std::string& spec, const std::string& input,
                                  FilterContext context = {}) {
    Result<FilterSpec> parsed = ParseFilterSpec(spec);
    EXPECT_TRUE(parsed.ok()) << spec;
    return RunFilter(parsed.value(), context, input);
  }
  static VImage Decode(const Result<FilterOutput>& out) {
    if (!out.ok() || !out->bytes) {
      ADD_FAILURE() << (out.ok() ? "no output bytes" : out.status().message());
      return VImage::black(1, 1);
    }
    // Decoded now: libvips decodes lazily, and the buffer is often a temporary.
    return VImage::new_from_buffer(out->bytes->data(), out->bytes->size(), "").copy_memory();
  }
  static VImage Decode(const std::string& bytes) {
    return VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory();
  }
  // Mean absolute difference between horizontal neighbours: high-frequency energy.
  static double Detail(const VImage& image) {
    const int w = image.width(), h = image.height();
    return (image.extract_area(1, 0, w - 1, h).cast(VIPS_FORMAT_FLOAT) -
            image.extract_area(0, 0, w - 1, h).cast(VIPS_FORMAT_FLOAT))
        .abs()
        .avg();
  }
  static const std::string& Hostile(HostileKind kind) {
    return (*hostile_)[static_cast<size_t>(kind)];
  }

  static std::vector<std::string>* hostile_;
};
std::vector<std::string>* VipsFiltersTest::hostile_ = nullptr;

TEST_F(VipsFiltersTest, BlurLowersAndSharpenRaisesDetail) {
  const std::string input = Noise();
  const double before = Detail(Decode(input));
  Result<FilterOutput> blur = Run("blur:3", input);
  ASSERT_TRUE(blur.ok()) << blur.status().message();
  EXPECT_EQ(blur->format, OutputFormat::kPng);  // the input's format
  EXPECT_EQ(blur->width, 64u);
  EXPECT_EQ(blur->height, 48u);
  VImage blurred = Decode(blur);
  EXPECT_EQ(blurred.width(), 64);
  EXPECT_LT(Detail(blurred), before * 0.3);
  Result<FilterOutput> sharp = Run("blur:1,sharpen:2", input);
  ASSERT_TRUE(sharp.ok()) << sharp.status().message();
  Result<FilterOutput> soft = Run("blur:1", input);
  EXPECT_GT(Detail(Decode(sharp)), Detail(Decode(soft)) * 1.1);
}

// Grey is Rec. 601 luma of the sRGB values, rounded: what JPEG's Y, Pillow's "L" and OpenCV
// compute, so a JPEG's luma can be decoded alone.
TEST_F(VipsFiltersTest, GrayscaleIsRec601Luma) {
  const std::vector<double> colours[] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {200, 100, 50}};
  const int expected[] = {76, 150, 29, 124};  // 76.2, 149.7, 29.1, 124.2
  for (size_t i = 0; i < std::size(colours); ++i) {
    const VImage flat =
        (VImage::black(8, 8, VImage::option()->set("bands", 3)) + colours[i])
            .cast(VIPS_FORMAT_UCHAR)
            .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    VImage grey = Decode(Run("grayscale", Encode(flat, ".png")));
    ASSERT_EQ(grey.bands(), 1);
    EXPECT_EQ(grey.min(), expected[i]) << i;
    EXPECT_EQ(grey.max(), expected[i]) << i;
  }
}

TEST_F(VipsFiltersTest, GrayscaleSepiaInvertBrightnessContrast) {
  const std::string input = Noise();
  VImage gray = Decode(Run("grayscale", input));
  EXPECT_EQ(gray.bands(), 1);
  VImage sepia = Decode(Run("sepia:1", input));
  ASSERT_EQ(sepia.bands(), 3);
  EXPECT_GT(sepia[0].avg(), sepia[1].avg());
  EXPECT_GT(sepia[1].avg(), sepia[2].avg());
  // invert twice is the identity (PNG: lossless)
  VImage twice = Decode(Run("invert,invert", input));
  EXPECT_LT((twice.cast(VIPS_FORMAT_FLOAT) - Decode(input).cast(VIPS_FORMAT_FLOAT)).abs().max(),
            0.5);
  VImage inverted = Decode(Run("invert", input));
  EXPECT_NEAR(inverted.avg(), 255 - Decode(input).avg(), 0.5);
  EXPECT_GT(Decode(Run("brightness:1.5", input)).avg(), Decode(input).avg() * 1.2);
  VImage flat = Decode(Run("contrast:0", input));
  EXPECT_LT(flat.deviate(), 1.0);
  EXPECT_NEAR(flat.avg(), 128, 1);
}

TEST_F(VipsFiltersTest, EdgeOfAFlatImageIsZeroAndOfNoiseIsNot) {
  const std::string flat =
      Encode(VImage::black(40, 30, VImage::option()->set("bands", 3)) + 90, ".png");
  EXPECT_LT(Decode(Run("edge", flat)).max(), 1.0);
  EXPECT_GT(Decode(Run("edge", Noise())).avg(), 10.0);
}

TEST_F(VipsFiltersTest, PixelateMakesConstantBlocksAndThumbnailKeepsTheAspect) {
  VImage blocks = Decode(Run("pixelate:8", Noise()));
  ASSERT_EQ(blocks.width(), 64);
  ASSERT_EQ(blocks.height(), 48);
  for (int by = 0; by < 6; ++by) {
    for (int bx = 0; bx < 8; ++bx) {
      VImage block = blocks.extract_area(bx * 8, by * 8, 8, 8);
      for (int b = 0; b < block.bands(); ++b) {
        EXPECT_EQ(block[b].deviate(), 0.0) << bx << "," << by << " band " << b;
      }
    }
  }
  Result<FilterOutput> thumb = Run("thumbnail:32", Noise(".jpg"));
  ASSERT_TRUE(thumb.ok());
  EXPECT_EQ(thumb->format, OutputFormat::kJpeg);
  EXPECT_EQ(thumb->width, 32u);
  EXPECT_EQ(thumb->height, 24u);
  VImage small = Decode(thumb);
  EXPECT_EQ(small.width(), 32);
  EXPECT_EQ(small.height(), 24);
}

TEST_F(VipsFiltersTest, OutputFormatQualityAndGifBecomesPng) {
  const std::string input = Noise(".jpg");
  FilterContext webp;
  webp.format = OutputFormat::kWebp;
  Result<FilterOutput> out = Run("blur:1", input, webp);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->format, OutputFormat::kWebp);
  EXPECT_EQ(out->bytes->view().substr(8, 4), "WEBP");
  FilterContext low, high;
  low.quality = 10;
  high.quality = 95;
  EXPECT_LT(Run("blur:0.5", input, low)->bytes->size(),
            Run("blur:0.5", input, high)->bytes->size());
  const std::string gif = Encode(Decode(Noise()), ".gif");
  Result<FilterOutput> from_gif = Run("invert", gif);
  ASSERT_TRUE(from_gif.ok()) << from_gif.status().message();
  EXPECT_EQ(from_gif->format, OutputFormat::kPng);
}

TEST_F(VipsFiltersTest, ExifOrientationIsAppliedAndMetadataStrippedUnlessKept) {
  Result<FilterOutput> rotated = Run("blur:0.5", Hostile(HostileKind::kExif6));
  ASSERT_TRUE(rotated.ok()) << rotated.status().message();
  EXPECT_EQ(rotated->width, 20u);  // stored 40x20, orientation 6: displayed 20x40
  EXPECT_EQ(rotated->height, 40u);
  EXPECT_EQ(Decode(rotated).height(), 40);
  const std::string& gps = Hostile(HostileKind::kGps);
  ASSERT_NE(Decode(gps).get_typeof("exif-ifd3-GPSLatitude"), 0u) << "the fixture lost its GPS";
  Result<FilterOutput> stripped = Run("blur:0.5", gps);
  ASSERT_TRUE(stripped.ok());
  EXPECT_EQ(Decode(stripped).get_typeof("exif-ifd3-GPSLatitude"), 0u) << "GPS survived";
  FilterContext keep;
  keep.keep_metadata = true;
  Result<FilterOutput> kept = Run("blur:0.5", gps, keep);
  ASSERT_TRUE(kept.ok());
  EXPECT_NE(Decode(kept).get_typeof("exif-ifd3-GPSLatitude"), 0u);
}

TEST_F(VipsFiltersTest, AlphaCmykSixteenBitAndTinyImagesComeOutRight) {
  Result<FilterOutput> alpha = Run("blur:1", Hostile(HostileKind::kPng16Alpha));
  ASSERT_TRUE(alpha.ok()) << alpha.status().message();
  VImage with_alpha = Decode(alpha);
  EXPECT_EQ(with_alpha.bands(), 4);
  EXPECT_EQ(with_alpha.format(), VIPS_FORMAT_UCHAR);
  Result<FilterOutput> cmyk = Run("invert", Hostile(HostileKind::kCmykJpeg));
  ASSERT_TRUE(cmyk.ok()) << cmyk.status().message();
  EXPECT_EQ(Decode(cmyk).bands(), 3);
  EXPECT_EQ(Decode(cmyk).interpretation(), VIPS_INTERPRETATION_sRGB);
  Result<FilterOutput> tiny = Run("blur:5", Hostile(HostileKind::kTiny));
  ASSERT_TRUE(tiny.ok()) << tiny.status().message();
  EXPECT_EQ(tiny->width, 1u);
  Result<FilterOutput> tiny_blocks = Run("pixelate:8", Hostile(HostileKind::kTiny));
  EXPECT_TRUE(tiny_blocks.ok()) << tiny_blocks.status().message();
}

TEST_F(VipsFiltersTest, HostileImagesEndWithTheirCode) {
  struct Case {
    HostileKind kind;
    Code code;
  };
  for (const Case& c : {Case{HostileKind::kBombJpeg, Code::kTooManyPixels},
                        Case{HostileKind::kBombGif, Code::kTooManyPixels},
                        Case{HostileKind::kBombPng50k, Code::kTooManyPixels},
                        Case{HostileKind::kSvg, Code::kUnsupportedFormat},
                        Case{HostileKind::kTiff, Code::kUnsupportedFormat},
                        Case{HostileKind::kHeic, Code::kUnsupportedFormat},
                        Case{HostileKind::kProgressiveBig, Code::kTooManyPixels},
                        Case{HostileKind::kAnimatedGif, Code::kTooManyFrames},
                        Case{HostileKind::kAnimatedWebp, Code::kTooManyFrames},
                        Case{HostileKind::kZero, Code::kDecodeError}}) {
    Result<FilterOutput> out = Run("blur:2", Hostile(c.kind));
    ASSERT_FALSE(out.ok()) << fixture::kHostileSpecs[static_cast<size_t>(c.kind)].fault;
    EXPECT_EQ(out.status().code(), c.code)
        << fixture::kHostileSpecs[static_cast<size_t>(c.kind)].fault << ": "
        << out.status().message();
  }
  // Truncated or garbled data fails to decode instead of giving grey pixels.
  for (const char* suffix : {".jpg", ".png", ".webp"}) {
    const std::string image = Noise(suffix);
    for (size_t keep : {image.size() / 2, image.size() * 3 / 4}) {
      Result<FilterOutput> cut = Run("blur:2", image.substr(0, keep));
      ASSERT_FALSE(cut.ok()) << suffix << " cut to " << keep;
      EXPECT_EQ(cut.status().code(), Code::kDecodeError)
          << suffix << ": " << cut.status().message();
    }
  }
  // Random bytes after a valid magic number, and an HTML page, are refused before decoding.
  std::string random_after_magic("\xFF\xD8\xFF\xE0", 4);
  for (int i = 0; i < 2000; ++i) random_after_magic.push_back(static_cast<char>((i * 7919) % 251));
  EXPECT_EQ(Run("blur:2", random_after_magic).status().code(), Code::kDecodeError);
  EXPECT_EQ(Run("blur:2", "<html><body>502 Bad Gateway</body></html>").status().code(),
            Code::kUnsupportedFormat);
  std::string garbled = Noise(".png");
  for (size_t i = garbled.size() / 2; i < garbled.size() - 20; ++i) garbled[i] = 'x';
  EXPECT_EQ(Run("blur:2", garbled).status().code(), Code::kDecodeError);
  // A small --max-pixels refuses an ordinary image from its header.
  FilterContext small;
  small.max_pixels = 1000;
  EXPECT_EQ(Run("blur:2", Noise(), small).status().code(), Code::kTooManyPixels);
}

// The allow-list holds inside libvips too: after InitFilters() a TIFF or SVG cannot be loaded
// even by code that skips the header check.
TEST_F(VipsFiltersTest, OnlyTheFourLoadersAreAllowed) {
  for (HostileKind kind : {HostileKind::kTiff, HostileKind::kSvg}) {
    const std::string& bytes = Hostile(kind);
    EXPECT_THROW(VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory(),
                 vips::VError)
        << fixture::kHostileSpecs[static_cast<size_t>(kind)].fault;
    vips_error_clear();
  }
  EXPECT_NO_THROW(Decode(Noise(".jpg")));
  EXPECT_NO_THROW(Decode(Encode(Decode(Noise()), ".gif")));
  EXPECT_NO_THROW(Decode(Encode(Decode(Noise()), ".webp")));
}

// --max-pixels counts every frame of an animation.
TEST_F(VipsFiltersTest, MaxPixelsCountsEveryFrame) {
  FilterContext context;
  context.max_pixels = 32 * 32 * 50;  // one 32x32 frame fits, 200 of them do not
  Result<FilterOutput> out = Run("blur:1", Hostile(HostileKind::kAnimatedGif), context);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kTooManyPixels) << out.status().message();
}

// A GIF whose screen is 1x1 but whose frame declares 65535x65535: the header probe sees the
// screen, libvips sees the frame; the larger one counts, so nothing huge is decoded.
TEST_F(VipsFiltersTest, AGifFrameLargerThanItsScreenIsRefused) {
  std::string gif = Hostile(HostileKind::kBombGif);
  ASSERT_GE(gif.size(), 10u);
  gif[6] = 1;  // logical screen width 1 (little-endian)
  gif[7] = 0;
  gif[8] = 1;  // height 1
  gif[9] = 0;
  FilterContext context;
  context.max_pixels = 1'000'000;
  Result<FilterOutput> out = Run("blur:1", gif, context);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().code() == Code::kTooManyPixels ||
              out.status().code() == Code::kDecodeError)
      << out.status().code() << ": " << out.status().message();
}

// thumbnail only shrinks: a 1x1 image stays 1x1 instead of becoming SIZE x SIZE.
// Every chain the parser accepts runs: the longest one of each filter (libvips nests one call
// per operation, and a chain of 2,000 overflowed the stack).
TEST_F(VipsFiltersTest, TheLongestChainOfEveryFilterRuns) {
  for (const char* step : {"blur:1", "sharpen:1", "grayscale", "sepia:0.5", "edge", "invert",
                           "brightness:1", "contrast:1", "pixelate:2", "thumbnail:64"}) {
    std::string chain = step;
    for (size_t i = 1; i < kMaxFilterSteps; ++i) chain += std::string(",") + step;
    Result<FilterOutput> out = Run(chain, Noise());
    EXPECT_TRUE(out.ok()) << step << ": " << (out.ok() ? "" : out.status().message());
  }
}

TEST_F(VipsFiltersTest, ThumbnailNeverEnlarges) {
  Result<FilterOutput> out = Run("thumbnail:256", Hostile(HostileKind::kTiny));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->width, 1u);
  EXPECT_EQ(out->height, 1u);
}

// JPEG and WebP are decoded at 1/2 (here) by shrink-on-load, PNG in full: every format ends at
// the same size and, once resampled, at nearly the same pixels.
TEST_F(VipsFiltersTest, ThumbnailOfEveryFormatShrinksToTheSamePicture) {
  const VImage smooth = Decode(Noise()).resize(16).gaussblur(16);  // 1024 x 768, smooth
  const VImage png = Decode(Run("thumbnail:400", Encode(smooth, ".png")));
  for (const char* suffix : {".jpg[Q=95]", ".webp[Q=95]"}) {
    Result<FilterOutput> out = Run("thumbnail:400", Encode(smooth, suffix));
    ASSERT_TRUE(out.ok()) << suffix << ": " << out.status().message();
    EXPECT_EQ(out->width, 400u) << suffix;
    EXPECT_EQ(out->height, 300u) << suffix;
    const double error = (Decode(out).cast(VIPS_FORMAT_FLOAT) - png).abs().avg();
    EXPECT_LT(error, 2.5) << suffix;  // levels, mean over samples
  }
}

}  // namespace
}  // namespace pixelmill
