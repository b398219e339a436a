// ProbeImage: checks that untrusted bytes (an HTTP download, a worker's filtered output) hold a
// supported image whose header parses, before the bytes are accepted. Sniffing magic bytes alone
// accepts a bare JPEG header or garbage after a valid signature; the probe also walks the format's
// headers (JPEG markers, PNG chunks, GIF blocks, RIFF/WebP chunks, the TIFF IFD, ISOBMFF boxes)
// and requires non-zero dimensions and the start of the image data within the bytes. It does not
// decode pixels, so an image can still fail to decode later. Pure functions: stateless, safe from
// any thread, never read outside the given bytes; cost depends on the headers, not the pixel data.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/base/status.h"
#include "common/image/image_format.h"

namespace pixelmill {

// What the header of an image declares.
struct ImageHeader {
  OutputFormat format = OutputFormat::kUnknown;  // never kUnknown or kBin in an ok Result
  uint32_t width = 0, height = 0;                // both >= 1 in an ok Result
};

// The header of the JPEG, PNG, WebP, GIF, AVIF or TIFF in `bytes`, or kNotImage with a
// message a user can act on (e.g. "JPEG is truncated: no frame header (SOF) in 312 bytes").
Result<ImageHeader> ProbeImage(std::string_view bytes);

}  // namespace pixelmill
