// How the image API fixture (image-api) encodes what it serves: the libvips save options per
// format (the gradients and the photos alike), and the corrupted copy of a body that
// ?fault=corrupt and ?fault=corrupt_png send. Pure functions; EncodePicture needs libvips
// initialised and may run on any thread.
#pragma once

#include <string>
#include <string_view>
#include <vips/vips8>

#include "tests/support/image_bank.h"

namespace pixelmill::fixture {

// The libvips save suffix for `format`: JPEG quality 85, PNG compression 6, WebP quality 80,
// GIF; all without metadata.
const char* SaveSuffix(ImageFormat format);

// `image` encoded as `format`. Throws vips::VError when libvips fails.
std::string EncodePicture(const vips::VImage& image, ImageFormat format);

// `body` with its first 40% kept and the rest overwritten with pseudo-random bytes (same
// length, the same bytes every time).
std::string Corrupted(std::string_view body);

}  // namespace pixelmill::fixture
