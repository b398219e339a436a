#include "tests/support/image_bank.h"

#include <vips/vips8>

#include <algorithm>

#include "tests/support/picture_encoding.h"

namespace pixelmill::fixture {
namespace {

// A smooth gradient: lightness down, chroma across, hue around the colour wheel by variant.
vips::VImage MakePicture(int width, int height, int variant, int variants) {
  using vips::VImage;
  VImage xy = VImage::xyz(width, height);
  VImage x = xy[0];
  VImage y = xy[1];
  double hue = 360.0 * variant / variants;
  VImage lightness = y * (50.0 / std::max(1, height - 1)) + 30.0;
  VImage chroma = x * (40.0 / std::max(1, width - 1)) + 20.0;
  VImage hues = (x + y) * (60.0 / std::max(1, width + height - 2)) + hue;
  VImage lch = VImage::bandjoin({lightness, chroma, hues})
                   .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_LCH));
  return lch.colourspace(VIPS_INTERPRETATION_sRGB).cast(VIPS_FORMAT_UCHAR);
}

std::string MakeFiller() {
  std::string filler(ImageBank::kFillerBytes, '\0');
  for (size_t i = 0; i < filler.size(); ++i) filler[i] = static_cast<char>((i * 31 + 7) & 0x7f);
  filler.replace(0, 4, "\xff\xd8\xff\xe0", 4);
  return filler;
}

}  // namespace

std::optional<ImageBank> ImageBank::Create(int width, int height, int variants,
                                           std::string& error) {
  ImageBank bank;
  try {
    for (int v = 0; v < variants; ++v) {
      vips::VImage picture = MakePicture(width, height, v, variants);
      bank.jpeg_.push_back(EncodePicture(picture, ImageFormat::kJpeg));
      bank.png_.push_back(EncodePicture(picture, ImageFormat::kPng));
      bank.webp_.push_back(EncodePicture(picture, ImageFormat::kWebp));
      bank.gif_.push_back(EncodePicture(picture, ImageFormat::kGif));
      bank.corrupt_.push_back(Corrupted(bank.jpeg_.back()));
      bank.corrupt_png_.push_back(Corrupted(bank.png_.back()));
      bank.poison_.push_back(bank.jpeg_.back() + std::string(kPoisonMarker));
    }
    bank.hostile_ = MakeHostileImages();
  } catch (const vips::VError& e) {
    error = std::string("libvips: ") + e.what();
    return std::nullopt;
  }
  bank.bomb_ = MakePngBomb(kBombSide);
  bank.filler_ = MakeFiller();
  return bank;
}

size_t ImageBank::VariantOf(int64_t id) const {
  int64_t n = static_cast<int64_t>(jpeg_.size());
  return static_cast<size_t>((id % n + n) % n);
}

std::string_view ImageBank::Image(ImageFormat format, int64_t id) const {
  size_t v = VariantOf(id);
  switch (format) {
    case ImageFormat::kJpeg:
      return jpeg_[v];
    case ImageFormat::kPng:
      return png_[v];
    case ImageFormat::kWebp:
      return webp_[v];
    case ImageFormat::kGif:
      return gif_[v];
  }
  return jpeg_[v];
}

std::string_view ImageBank::Corrupt(int64_t id) const { return corrupt_[VariantOf(id)]; }

std::string_view ImageBank::CorruptPng(int64_t id) const { return corrupt_png_[VariantOf(id)]; }

std::string_view ImageBank::Poison(int64_t id) const { return poison_[VariantOf(id)]; }

}  // namespace pixelmill::fixture
