#include "tests/support/image_bank.h"

#include <glib.h>
#include <vips/vips8>

#include <algorithm>
#include <memory>

namespace pixelmill::fixture {
namespace {

struct GFreeDeleter {
  void operator()(void* p) const { g_free(p); }
};

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

std::string Encode(const vips::VImage& image, const char* suffix) {
  void* data = nullptr;
  size_t size = 0;
  image.write_to_buffer(suffix, &data, &size);
  std::unique_ptr<void, GFreeDeleter> owned(data);
  return std::string(static_cast<const char*>(data), size);
}

// Keeps the first 40% of `image` and overwrites the rest with pseudo-random bytes.
std::string Corrupted(const std::string& image) {
  std::string out = image;
  uint32_t state = 0x9e3779b9u;
  for (size_t i = image.size() * 2 / 5; i < out.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    out[i] = static_cast<char>(state >> 24);
  }
  return out;
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
      bank.jpeg_.push_back(Encode(picture, ".jpg[Q=85,strip]"));
      bank.png_.push_back(Encode(picture, ".png[compression=6,strip]"));
      bank.webp_.push_back(Encode(picture, ".webp[Q=80,strip]"));
      bank.gif_.push_back(Encode(picture, ".gif[strip]"));
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
