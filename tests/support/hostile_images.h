// Hostile and unusual images for the image API fixture server (image-api), one per
// `?fault=NAME`, each with the Content-Type it is served with:
//
//   bomb_jpeg        image/jpeg     a 16x16 JPEG whose SOF0 declares 65000x65000, cut after
//                                   the scan header and followed by 64 garbage bytes (no EOI)
//   bomb_gif         image/gif      hand-built GIF89a whose logical screen and image descriptor
//                                   declare 65535x65535; 2-colour table, 2 pixels of LZW data
//   bomb_png50k      image/png      PNG whose IHDR declares 50000x50000 (correct CRCs), its
//                                   zlib stream cut short
//   svg              image/svg+xml  SVG whose DOCTYPE declares an external entity
//                                   (file:///etc/passwd) that its text uses
//   tiff             image/tiff     real 64x64 RGB TIFF (deflate)
//   heic             image/heic     real 64x64 HEIC (HEVC) when libvips can save HEIF here;
//                                   otherwise a 'ftyp heic' box followed by garbage
//   progressive_big  image/jpeg     progressive 3000x3000 RGB JPEG of a smooth gradient
//   animated_gif     image/gif      200 frames of 32x32 (a square moving over a flat colour)
//   animated_webp    image/webp     the same 200 frames as an animated WebP
//   cmyk_jpeg        image/jpeg     64x64 CMYK JPEG (4 bands, no ICC profile)
//   png16_alpha      image/png      64x64 16-bit RGBA PNG
//   tiny             image/jpeg     1x1 JPEG
//   exif6            image/jpeg     40x20 JPEG with EXIF orientation 6 (displays as 20x40)
//   gps              image/jpeg     32x32 JPEG whose EXIF has a GPS IFD (latitude, longitude)
//   zero             image/jpeg     empty body
//
// The table (kHostileSpecs, FindHostile) is header-only so the fault planner can use it
// without libvips; MakeHostileImages() builds the bodies once, deterministically, in about
// 0.25 s here. The progressive JPEG is 0.1 s of that, and while it is encoded libjpeg holds
// the whole image's coefficients (about 30 MB, freed afterwards).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pixelmill::fixture {

enum class HostileKind {
  kBombJpeg,
  kBombGif,
  kBombPng50k,
  kSvg,
  kTiff,
  kHeic,
  kProgressiveBig,
  kAnimatedGif,
  kAnimatedWebp,
  kCmykJpeg,
  kPng16Alpha,
  kTiny,
  kExif6,
  kGps,
  kZero,
};

struct HostileSpec {
  HostileKind kind;
  std::string_view fault;  // the ?fault= value
  std::string_view content_type;
};

// In HostileKind order: kHostileSpecs[static_cast<size_t>(kind)].kind == kind.
inline constexpr std::array<HostileSpec, 15> kHostileSpecs = {{
    {HostileKind::kBombJpeg, "bomb_jpeg", "image/jpeg"},
    {HostileKind::kBombGif, "bomb_gif", "image/gif"},
    {HostileKind::kBombPng50k, "bomb_png50k", "image/png"},
    {HostileKind::kSvg, "svg", "image/svg+xml"},
    {HostileKind::kTiff, "tiff", "image/tiff"},
    {HostileKind::kHeic, "heic", "image/heic"},
    {HostileKind::kProgressiveBig, "progressive_big", "image/jpeg"},
    {HostileKind::kAnimatedGif, "animated_gif", "image/gif"},
    {HostileKind::kAnimatedWebp, "animated_webp", "image/webp"},
    {HostileKind::kCmykJpeg, "cmyk_jpeg", "image/jpeg"},
    {HostileKind::kPng16Alpha, "png16_alpha", "image/png"},
    {HostileKind::kTiny, "tiny", "image/jpeg"},
    {HostileKind::kExif6, "exif6", "image/jpeg"},
    {HostileKind::kGps, "gps", "image/jpeg"},
    {HostileKind::kZero, "zero", "image/jpeg"},
}};
static_assert(
    [] {
      for (size_t i = 0; i < kHostileSpecs.size(); ++i) {
        if (static_cast<size_t>(kHostileSpecs[i].kind) != i) return false;
      }
      return true;
    }(),
    "kHostileSpecs must list HostileKind in order");

// The spec whose fault is `fault`, or nullptr.
inline const HostileSpec* FindHostile(std::string_view fault) {
  for (const HostileSpec& spec : kHostileSpecs) {
    if (spec.fault == fault) return &spec;
  }
  return nullptr;
}

// The CRC-32 of PNG chunks (ISO 3309, as zlib's crc32).
uint32_t Crc32(std::string_view bytes);

// A PNG that claims side x side 8-bit grey pixels: valid signature, IHDR and CRCs, then an
// IDAT holding the start of a zlib stream (one non-final stored block of 256 zero bytes) that
// never finishes, and IEND. Decoders must refuse it on the header alone.
std::string MakePngBomb(uint32_t side);

// A 32x24 JPEG with libvips' sRGB profile embedded, its tag count damaged in the file unless
// `damaged` is false: readable, but libvips warns and converts it without the profile. Throws
// vips::VError.
std::string MakeDamagedIccJpeg(bool damaged = true);

// Every body, indexed by HostileKind. Throws vips::VError when libvips fails.
// REQUIRES: VIPS_INIT succeeded.
std::vector<std::string> MakeHostileImages();

}  // namespace pixelmill::fixture
