// The fast JPEG path: a JPEG in, a JPEG out, decoded and encoded with libjpeg-turbo's TurboJPEG
// API into buffers reused across jobs, and filtered in memory (pixels.h), with no libvips
// pipeline, colour management or metadata handling, because none is needed:
//   - the input is a clean baseline JPEG (jpeg_markers.h) of 1 or 3 components, orientation 1,
//     and it decodes without a single libjpeg warning; an RGB ICC profile is converted to sRGB
//     (colour_profile.h), as libvips does;
//   - the output is JPEG with metadata stripped;
//   - every step has an in-memory filter (each of pixelmill's: blur, sharpen, grayscale, sepia,
//     edge, pixelate, invert, brightness, contrast, thumbnail).
// Anything else, and any image TurboJPEG refuses, returns nullopt: the caller runs libvips'
// hardened path, whose verdict (and error code) stands. The caller has already checked the
// header against --max-pixels; the decoded size is the header's.
#pragma once
#include <optional>
#include <string_view>

#include "common/filters/filter.h"
#include "common/image/image_probe.h"

namespace pixelmill {

std::optional<Result<FilterOutput>> TryFastJpeg(const FilterSpec& spec,
                                                const FilterContext& context,
                                                const ImageHeader& header, std::string_view input);

}  // namespace pixelmill
