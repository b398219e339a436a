// The fast JPEG path against libvips' exact filters on real photographs (Debian's python3-skimage
// sample images, which scripts/setup.sh installs): same size and bands, and pixels within the
// PSNR stated per filter; images it must not take go to libvips; hostile images get the same
// verdict by either path; its marker reader survives every truncation and byte flip.
#include "common/filters/fast_jpeg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <vips/vips8>

#include "common/filters/jpeg_markers.h"
#include "tests/support/hostile_images.h"

namespace pixelmill {
namespace {

using vips::VImage;

constexpr const char* kPhotoDir = "/usr/lib/python3/dist-packages/skimage/data";
constexpr const char* kPhotos[] = {"astronaut.png", "chelsea.png", "coffee.png",
                                   "color.png",     "ihc.png",     "motorcycle_left.png",
                                   "rocket.jpg"};

std::string Encode(const VImage& image, const char* suffix) {
  void* buf = nullptr;
  size_t size = 0;
  image.write_to_buffer(suffix, &buf, &size);
  std::string out(static_cast<const char*>(buf), size);
  g_free(buf);
  return out;
}

class FastJpegTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(InitFilters().ok());
    photos_ = new std::vector<std::string>;
    for (const char* name : kPhotos) {
      const std::filesystem::path path = std::filesystem::path(kPhotoDir) / name;
      ASSERT_TRUE(std::filesystem::exists(path))
          << path << " is missing: scripts/setup.sh installs python3-skimage";
      // As a photo arrives from an image API: JPEG quality 85, its ICC profile (sRGB) kept.
      std::ifstream in(path, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      photos_->push_back(Encode(VImage::new_from_buffer(bytes, ""), ".jpg[Q=85]"));
    }
  }
  static void TearDownTestSuite() { delete photos_; }

  static Result<FilterOutput> Run(const std::string& spec, const std::string& input,
                                  FilterContext context = {}) {
    Result<FilterSpec> parsed = ParseFilterSpec(spec);
    EXPECT_TRUE(parsed.ok()) << spec;
    return RunFilter(parsed.value(), context, input);
  }
  static Result<FilterOutput> Exact(const std::string& spec, const std::string& input) {
    FilterContext context;
    context.exact = true;
    return Run(spec, input, context);
  }
  static VImage Decode(const FilterOutput& out) {
    return VImage::new_from_buffer(out.bytes->data(), out.bytes->size(), "").copy_memory();
  }
  // Peak signal-to-noise ratio of `a` against `b`, in dB (same size and bands).
  static double Psnr(const VImage& a, const VImage& b) {
    const VImage d = a.cast(VIPS_FORMAT_FLOAT) - b.cast(VIPS_FORMAT_FLOAT);
    const double mse = (d * d).avg();
    return mse == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / mse);
  }

  static std::vector<std::string>* photos_;
};

std::vector<std::string>* FastJpegTest::photos_ = nullptr;

struct PsnrCase {
  const char* spec;
  double min_psnr;  // against libvips' exact filter, every photo
};

// The approximations, stated (measured worst over the photos, in the note beside each): blurs
// within 40 dB (three boxes against libvips' cut Gaussian; 38 at sigma 0.6, where libvips' integer
// mask is coarsest), the sharpen within 32 dB (8-bit luma against L*), point operations within
// 40 dB (libvips' own ICC round trip on sRGB photos), thumbnails within 35 dB, a sharpened
// thumbnail within 25 dB (the sharpen's difference, on fewer, busier pixels), edges within 30 dB
// (the blur-free gradient amplifies every rounding) and pixelate within 40 dB.
constexpr PsnrCase kCases[] = {
    {"blur:5", 40},                    // 44.0
    {"blur:0.6", 38},                  // 39.7
    {"blur:20", 40},                   // 42.7
    {"sharpen:1", 32},                 // 33.3
    {"sharpen:3", 32},                 // 34.8
    {"grayscale", 40},                 // 54.9 (the JPEG's luma, decoded alone)
    {"sepia:1", 40},                   // 47.2
    {"sepia:0.4", 40},                 // 47.9
    {"invert", 40},                    // 50.9
    {"brightness:1.3", 40},            // 46.4
    {"contrast:1.5", 40},              // 44.6
    {"thumbnail:256", 35},             // 37.3
    {"thumbnail:100,sharpen:1", 25},   // 26.5
    {"grayscale,blur:2", 40},          // 46.8
    {"thumbnail:256,grayscale", 35},   // 37.7
    {"blur:1,edge", 26},               // 28.4 (the blur's difference, differentiated)
    {"edge", 30},                      // 35.5
    {"pixelate:8", 40},                // 50.3
    {"pixelate:13", 40},               // 47.2
    {"thumbnail:256,pixelate:4", 35},  // 42.3
};

TEST_F(FastJpegTest, MatchesLibvipsOnRealPhotosWithinTheStatedPsnr) {
  for (const PsnrCase& c : kCases) {
    double worst = 99;
    for (size_t i = 0; i < photos_->size(); ++i) {
      SCOPED_TRACE(std::string(c.spec) + " on " + kPhotos[i]);
      Result<FilterOutput> fast = Run(c.spec, (*photos_)[i]);
      Result<FilterOutput> exact = Exact(c.spec, (*photos_)[i]);
      ASSERT_TRUE(fast.ok() && exact.ok());
      EXPECT_TRUE(fast->fast_path);
      EXPECT_FALSE(exact->fast_path);
      const VImage a = Decode(fast.value()), b = Decode(exact.value());
      ASSERT_EQ(a.width(), b.width());
      ASSERT_EQ(a.height(), b.height());
      ASSERT_EQ(a.bands(), b.bands());
      EXPECT_EQ(fast->format, OutputFormat::kJpeg);
      EXPECT_GT(fast->stages.decode_us + fast->stages.filter_us + fast->stages.encode_us, 0u);
      worst = std::min(worst, Psnr(a, b));
    }
    std::printf("  %-26s worst PSNR against libvips %.1f dB (at least %.0f)\n", c.spec, worst,
                c.min_psnr);
    EXPECT_GE(worst, c.min_psnr) << c.spec;
  }
}

TEST_F(FastJpegTest, ImagesItMustNotTakeGoToLibvips) {
  const VImage photo = VImage::new_from_buffer((*photos_)[0], "");
  struct Refused {
    const char* why;
    std::string bytes;
    FilterContext context;
  };
  FilterContext keep;
  keep.keep_metadata = true;
  FilterContext png_out;
  png_out.format = OutputFormat::kPng;
  const std::vector<Refused> refused = {
      {"png input", Encode(photo, ".png"), {}},
      {"progressive", Encode(photo, ".jpg[Q=85,interlace]"), {}},
      {"metadata kept", (*photos_)[0], keep},
      {"png output", (*photos_)[0], png_out},
  };
  for (const Refused& r : refused) {
    Result<FilterOutput> out = Run("blur:2", r.bytes, r.context);
    ASSERT_TRUE(out.ok()) << r.why << ": " << out.status().message();
    EXPECT_FALSE(out->fast_path) << r.why;
  }
}

// A profile other than sRGB is converted as libvips converts it (a matrix-shaper profile such as
// P3 by colour_profile.cc's integer path; invert leaves the conversion's error unsmoothed).
TEST_F(FastJpegTest, ADisplayP3PhotoIsConvertedToSrgbAsLibvipsDoes) {
  const VImage photo = VImage::new_from_buffer((*photos_)[0], "");
  const std::string p3 = Encode(photo.icc_transform("p3"), ".jpg[Q=85]");
  ASSERT_FALSE(IsSrgbProfile(ReadJpegMarkers(p3).icc));
  for (const auto& [spec, min_db] :
       {std::pair{"blur:2", 40}, std::pair{"invert", 45}, std::pair{"grayscale", 45}}) {
    Result<FilterOutput> fast = Run(spec, p3);
    Result<FilterOutput> exact = Exact(spec, p3);
    ASSERT_TRUE(fast.ok() && exact.ok()) << spec;
    EXPECT_TRUE(fast->fast_path) << spec;
    EXPECT_GE(Psnr(Decode(fast.value()), Decode(exact.value())), min_db) << spec;
  }
}

TEST_F(FastJpegTest, AnExifOrientationIsLeftToLibvipsWhichTurnsTheImage) {
  const std::vector<std::string> hostile = fixture::MakeHostileImages();
  const std::string& exif6 = hostile[static_cast<size_t>(fixture::HostileKind::kExif6)];
  EXPECT_EQ(ReadJpegMarkers(exif6).orientation, 6);
  Result<FilterOutput> out = Run("blur:1", exif6);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FALSE(out->fast_path);
  const VImage in = VImage::new_from_buffer(exif6, "");
  EXPECT_EQ(out->width, static_cast<uint32_t>(in.height()));  // turned a quarter
}

TEST_F(FastJpegTest, HostileAndDamagedImagesGetTheSameVerdictByEitherPath) {
  std::vector<std::string> images = fixture::MakeHostileImages();
  const std::string& photo = (*photos_)[2];
  images.push_back(photo.substr(0, photo.size() / 2));  // truncated mid-scan
  std::string flipped = photo;
  for (size_t at = flipped.size() / 3; at < flipped.size() - 2; at += 997) flipped[at] ^= 0x5a;
  images.push_back(flipped);
  images.push_back(fixture::MakeDamagedIccJpeg());
  for (size_t i = 0; i < images.size(); ++i) {
    for (const char* spec : {"blur:2", "grayscale", "thumbnail:64", "edge", "pixelate:8"}) {
      SCOPED_TRACE("image " + std::to_string(i) + ", " + spec);
      Result<FilterOutput> fast = Run(spec, images[i]);
      Result<FilterOutput> exact = Exact(spec, images[i]);
      ASSERT_EQ(fast.ok(), exact.ok())
          << (fast.ok() ? exact.status().message() : fast.status().message());
      if (!fast.ok()) {
        EXPECT_EQ(fast.status().code(), exact.status().code());
        continue;
      }
      EXPECT_EQ(fast->width, exact->width);
      EXPECT_EQ(fast->height, exact->height);
      EXPECT_EQ(fast->warnings, exact->warnings);
    }
  }
}

TEST_F(FastJpegTest, TheMarkerReaderSurvivesEveryTruncationAndFlip) {
  const std::string& photo = (*photos_)[0];
  const JpegMarkers whole = ReadJpegMarkers(photo);
  EXPECT_TRUE(whole.clean);
  EXPECT_TRUE(whole.baseline);
  EXPECT_EQ(whole.components, 3);
  EXPECT_TRUE(IsSrgbProfile(whole.icc)) << whole.icc.size();
  const size_t headers = photo.find("\xff\xda");
  ASSERT_NE(headers, std::string::npos);
  for (size_t n = 0; n < headers + 8; ++n) {
    const JpegMarkers m = ReadJpegMarkers(photo.substr(0, n));
    if (n <= headers) {
      EXPECT_FALSE(m.clean) << n;
    }
    IsSrgbProfile(m.icc);  // must not read out of bounds (ASan)
  }
  for (size_t at = 0; at < headers; ++at) {
    std::string damaged = photo.substr(0, headers + 16);
    damaged[at] = static_cast<char>(~damaged[at]);
    const JpegMarkers m = ReadJpegMarkers(damaged);
    IsSrgbProfile(m.icc);
  }
}

}  // namespace
}  // namespace pixelmill
