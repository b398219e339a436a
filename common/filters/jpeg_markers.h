// What the fast JPEG path (fast_jpeg.h) must know of a JPEG before it decodes one, read from the
// marker segments in front of the first scan: the frame type, the component count, the EXIF
// orientation and the embedded ICC profile. Bounds-checked on hostile bytes: anything that does
// not parse is reported as not `clean`, and the image goes to libvips' hardened path, whose verdict
// stands.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pixelmill {

struct JpegMarkers {
  bool clean = false;     // the segments up to the first scan parsed, and a frame was found
  bool baseline = false;  // SOF0 or SOF1: sequential Huffman (not progressive, lossless, ...)
  int components = 0;
  bool adobe = false;   // an Adobe APP14 segment (its colour transform may be CMYK/YCCK)
  int orientation = 1;  // EXIF orientation, 1 when absent or unreadable
  std::string icc;      // the ICC profile's chunks joined, empty when none
};

JpegMarkers ReadJpegMarkers(std::string_view jpeg);

// True when `icc` is an RGB display profile whose description names sRGB (as the common sRGB
// IEC61966-2.1 profiles do): converting from it to sRGB would change nothing worth the cost.
bool IsSrgbProfile(std::string_view icc);

}  // namespace pixelmill
