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

// Keeps the first 40% of `jpeg` and overwrites the rest with pseudo-random bytes.
std::string Corrupted(const std::string& jpeg) {
  std::string out = jpeg;
  uint32_t state = 0x9e3779b9u;
  for (size_t i = jpeg.size() * 2 / 5; i < out.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    out[i] = static_cast<char>(state >> 24);
  }
  return out;
}

uint32_t Crc32(std::string_view bytes) {
  uint32_t crc = 0xffffffffu;
  for (char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void AppendBigEndian32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

void AppendPngChunk(std::string& out, std::string_view type, std::string_view data) {
  AppendBigEndian32(out, static_cast<uint32_t>(data.size()));
  std::string body(type);
  body.append(data);
  out.append(body);
  AppendBigEndian32(out, Crc32(body));
}

// A PNG that claims kBombSide x kBombSide 8-bit grey pixels: valid signature, IHDR and CRCs,
// then an IDAT holding the start of a zlib stream (one non-final stored block of 256 zero
// bytes) that never finishes, and IEND. Decoders must refuse it on the header alone.
std::string MakeBomb() {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  AppendBigEndian32(ihdr, ImageBank::kBombSide);
  AppendBigEndian32(ihdr, ImageBank::kBombSide);
  ihdr.append({8, 0, 0, 0, 0});  // bit depth 8, greyscale, deflate, adaptive filter, no interlace
  AppendPngChunk(png, "IHDR", ihdr);
  std::string idat("\x78\x01", 2);         // zlib header: deflate, 32K window
  idat.append("\x00\x00\x01\xff\xfe", 5);  // stored block, not final, LEN 256
  idat.append(256, '\0');
  AppendPngChunk(png, "IDAT", idat);
  AppendPngChunk(png, "IEND", "");
  return png;
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
      bank.corrupt_.push_back(Corrupted(bank.jpeg_.back()));
      bank.poison_.push_back(bank.jpeg_.back() + std::string(kPoisonMarker));
    }
  } catch (const vips::VError& e) {
    error = std::string("libvips: ") + e.what();
    return std::nullopt;
  }
  bank.bomb_ = MakeBomb();
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
  }
  return jpeg_[v];
}

std::string_view ImageBank::Corrupt(int64_t id) const { return corrupt_[VariantOf(id)]; }

std::string_view ImageBank::Poison(int64_t id) const { return poison_[VariantOf(id)]; }

}  // namespace pixelmill::fixture
