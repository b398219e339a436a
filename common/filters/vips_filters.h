// The image filters proper, on libvips (C++ API). Used by RunFilter (common/filters/filter.h) for
// every spec that is not a stand-in; nothing else calls it.
//
// Untrusted input, so before libvips sees a byte the header is probed (ProbeImage): only JPEG,
// PNG, WebP and GIF are decoded (kUnsupportedFormat otherwise) and an image over max_pixels is
// refused from its header (kTooManyPixels) without allocating it. libvips then loads with
// fail_on=error (truncated or corrupt data is kDecodeError, never grey pixels), only the four
// loaders unblocked, one pixel thread and no operation cache. Animations: the first frame is
// filtered; more than kMaxFrames frames are refused; progressive JPEG and interlaced PNG, which
// decode to memory in full, are capped at kMaxInterlacedPixels. libvips' own view of the size
// (a GIF frame larger than its screen) is checked against max_pixels as well.
//
// Images are autorotated by their EXIF orientation and converted to sRGB (an embedded ICC
// profile is applied) before the steps; alpha is kept where the output format has it. Metadata
// (EXIF with GPS, XMP, IPTC) is stripped unless keep_metadata. The encoded output is handed over
// in libvips' own buffer, without a copy.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/filters/filter.h"

namespace pixelmill {

inline constexpr int kMaxFrames = 100;
inline constexpr uint64_t kMaxInterlacedPixels = 8'000'000;

// VIPS_INIT and the settings above; once per process (later calls return the first result).
Status InitVips();

// Decodes `input`, runs every step of `spec`, encodes. REQUIRES: InitVips() succeeded and
// !spec.IsStandIn().
Result<FilterOutput> RunVipsChain(const FilterSpec& spec, const FilterContext& context,
                                  std::string_view input);

}  // namespace pixelmill
