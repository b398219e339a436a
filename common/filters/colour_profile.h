// Embedded ICC profiles to sRGB for the fast JPEG path, with Little CMS (the library libvips'
// icc_transform uses), one transform per distinct profile, kept per thread: photos from one source
// mostly share a handful of profiles (sRGB, Adobe RGB, Display P3, a camera's), and building a
// transform costs far more than running one. sRGB profiles are not converted at all.
#pragma once
#include <string_view>

#include "common/filters/pixels.h"

namespace pixelmill {

// Converts 3-band `image` from `icc` to sRGB (relative colorimetric, as libvips' default).
// False when Little CMS cannot use the profile: the caller leaves the image to libvips.
bool ConvertToSrgb(std::string_view icc, Pixels& image);

}  // namespace pixelmill
