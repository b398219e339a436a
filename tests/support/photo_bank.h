// PhotoBank: the real photographs the image API fixture (image-api) serves with --images photos
// or ?images=photos, beside the gradients of image_bank.h.
//
// The photos are files in a folder: by default the sample photos Debian's python3-skimage
// package installs (kSkimagePhotos, in the folder FindSkimageData() finds); with --photo-dir
// every .jpg, .jpeg, .png and .webp file of that folder, by name. Each is decoded once (on first
// use, or by LoadAll() at start-up), turned into 8-bit sRGB without alpha, and kept in memory.
// A body is photo `id` mod photos(), resized and centre-cropped to cover exactly the size asked
// (down or up), encoded as the format asked with the save options of picture_encoding.h, and
// cached per (photo, size, format, variant) for the bank's lifetime, so each is encoded once
// and a view into it stays valid while a connection sends it. At most kMaxSizes distinct sizes
// are cached, each at most kMaxPhotoPixels pixels. One thread only (the server's loop thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>
#include <vips/vips8>

#include "tests/support/image_bank.h"

namespace pixelmill::fixture {

// Which bytes of a photo a response sends.
enum class PhotoVariant {
  kImage,       // the photo in the format asked
  kCorrupt,     // its JPEG, the tail after 40% replaced with garbage (?fault=corrupt)
  kCorruptPng,  // its PNG, likewise (?fault=corrupt_png)
  kPoison,      // its JPEG followed by ImageBank::kPoisonMarker (?fault=poison)
};

class PhotoBank {
 public:
  static constexpr size_t kMaxSizes = 16;
  // The colour photographs among python3-skimage's sample images (its data folder also holds
  // test patterns, grey scans and a deliberately truncated JPEG).
  static constexpr std::string_view kSkimagePhotos[] = {
      "astronaut.png", "coffee.png", "chelsea.png",           "motorcycle_left.png",
      "rocket.jpg",    "ihc.png",    "hubble_deep_field.jpg", "retina.jpg",
  };

  // The folder holding python3-skimage's sample images (Debian's path, else the one python3
  // reports for the skimage module), or "" when neither has kSkimagePhotos[0].
  static std::string FindSkimageData();

  // The bank over `dir`: every image file in it when `every_image` (--photo-dir), else the
  // kSkimagePhotos found in it. nullopt with `error` set when the folder cannot be read or
  // holds no photo. Decodes nothing yet. width x height is the default size of Body().
  static std::optional<PhotoBank> Open(const std::string& dir, bool every_image, int width,
                                       int height, std::string& error);

  // Decodes every photo and encodes each as a JPEG at the default size, so that a photo
  // libvips cannot read fails here, at start-up, instead of on a request. False with `error`.
  // REQUIRES: VIPS_INIT succeeded.
  bool LoadAll(std::string& error);

  int photos() const { return static_cast<int>(paths_.size()); }
  // The file name (no folder) of photo `id` mod photos(), e.g. "astronaut.png".
  std::string Name(int64_t id) const;
  int width() const { return width_; }
  int height() const { return height_; }

  // The bytes of photo `id` mod photos() (negative ids wrap too) at width x height (0, 0: the
  // bank's default size), as `format`; `format` is ignored for the JPEG- and PNG-based
  // variants. nullopt with `error` set when libvips fails or the size is refused.
  // REQUIRES: VIPS_INIT succeeded.
  std::optional<std::string_view> Body(PhotoVariant variant, ImageFormat format, int64_t id,
                                       int width, int height, std::string& error);

 private:
  using Key = std::tuple<size_t, int, int, ImageFormat, PhotoVariant>;

  PhotoBank() = default;
  size_t IndexOf(int64_t id) const;
  // The decoded photo `index`, loading it on first use. Throws vips::VError.
  const vips::VImage& Source(size_t index);
  // Encodes the entry for `key`. Throws vips::VError.
  std::string Make(const Key& key);

  std::vector<std::string> paths_;
  std::vector<std::optional<vips::VImage>> sources_;  // decoded on first use
  int width_ = 0;
  int height_ = 0;
  std::map<Key, std::string> cache_;        // map: a value never moves once inserted
  std::vector<std::pair<int, int>> sizes_;  // the distinct sizes cache_ holds
};

}  // namespace pixelmill::fixture
