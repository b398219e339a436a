// ImageBank: every byte string the image API fixture server (image-api) sends as a body,
// built once at start-up and read-only afterwards.
//
// Holds `variants` pre-encoded pictures (a deterministic LCh gradient whose hue depends on the
// variant index) in JPEG, PNG and WebP, a corrupt JPEG and a corrupt PNG per variant (the
// first 40% of the real one, then garbage), a hand-made PNG "bomb" whose header claims 30000x30000
// pixels, one filler chunk used to stream arbitrarily large bodies without allocating them, and the
// hostile and unusual images of hostile_images.h, one per ?fault= name:
//   bomb_jpeg (SOF declares 65000x65000), bomb_gif (65535x65535), bomb_png50k (50000x50000),
//   svg (external entity to file:///etc/passwd), tiff (real 64x64), heic (real 64x64 HEVC, or
//   an 'ftyp heic' header with garbage where libvips cannot save HEIF), progressive_big
//   (progressive 3000x3000 JPEG), animated_gif and animated_webp (200 frames of 32x32),
//   cmyk_jpeg (64x64 CMYK), png16_alpha (64x64 16-bit RGBA), tiny (1x1 JPEG), exif6 (40x20
//   JPEG, EXIF orientation 6), gps (JPEG with a GPS IFD) and zero (empty body).
// The bank owns all of these for its lifetime, so a server may hand out views into it for
// uv_write. Create() needs libvips initialised (VIPS_INIT) and takes about 0.25 s more than
// the pictures alone; the bank is then safe to read from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/hostile_images.h"

namespace pixelmill::fixture {

enum class ImageFormat { kJpeg, kPng, kWebp, kGif };

// The largest side of a picture the fixture draws (--size), and the most pixels of a photo it
// re-encodes (--size with --images photos, ?size=): 4 MP.
constexpr int kMaxPictureSide = 8192;
constexpr int64_t kMaxPhotoPixels = 2048 * 2048;

// "image/jpeg", "image/png", "image/webp" or "image/gif".
inline std::string_view ContentTypeOf(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kGif:
      return "image/gif";
  }
  return "application/octet-stream";
}

class ImageBank {
 public:
  static constexpr int kBombSide = 30000;
  static constexpr size_t kFillerBytes = 64 * 1024;

  // Encodes the pictures; nullopt with `error` set when libvips fails.
  // REQUIRES: VIPS_INIT succeeded; width, height and variants >= 1.
  static std::optional<ImageBank> Create(int width, int height, int variants, std::string& error);

  int variants() const { return static_cast<int>(jpeg_.size()); }
  // The picture for `id` (variant id mod variants(); negative ids wrap too).
  std::string_view Image(ImageFormat format, int64_t id) const;
  // The JPEG for `id`, its tail after 40% replaced with garbage (same length).
  std::string_view Corrupt(int64_t id) const;
  // The PNG for `id`, its tail after 40% replaced with garbage (same length). Unlike the
  // corrupt JPEG, whose damaged scan libjpeg decodes with warnings only, its chunk CRCs and
  // zlib stream fail a decoder that stops on errors.
  std::string_view CorruptPng(int64_t id) const;
  // The JPEG for `id` followed by kPoisonMarker, which makes the "crash" filter kill its
  // worker: a stand-in for an image that crashes every decoder that touches it.
  std::string_view Poison(int64_t id) const;
  static constexpr std::string_view kPoisonMarker = "pixelmill:crash";
  // A small PNG whose IHDR declares kBombSide x kBombSide; its pixel data is cut short.
  std::string_view Bomb() const { return bomb_; }
  // kFillerBytes bytes starting with a JPEG start-of-image marker.
  std::string_view Filler() const { return filler_; }
  // The body for `kind` (see hostile_images.h); empty for HostileKind::kZero.
  std::string_view Hostile(HostileKind kind) const { return hostile_[static_cast<size_t>(kind)]; }

 private:
  ImageBank() = default;
  size_t VariantOf(int64_t id) const;

  std::vector<std::string> jpeg_;
  std::vector<std::string> png_;
  std::vector<std::string> webp_;
  std::vector<std::string> gif_;
  std::vector<std::string> poison_;
  std::vector<std::string> corrupt_;
  std::vector<std::string> corrupt_png_;
  std::vector<std::string> hostile_;  // indexed by HostileKind
  std::string bomb_;
  std::string filler_;
};

}  // namespace pixelmill::fixture
