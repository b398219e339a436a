#include "common/filters/jpeg_markers.h"

#include <cstddef>

namespace pixelmill {
namespace {

uint32_t Big16(std::string_view s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 8) | static_cast<uint8_t>(s[at + 1]);
}

uint32_t Big32(std::string_view s, size_t at) { return (Big16(s, at) << 16) | Big16(s, at + 2); }

// The orientation tag (0x0112) of IFD0 in an EXIF segment's TIFF body; 1 when absent.
int ExifOrientation(std::string_view tiff) {
  if (tiff.size() < 8) return 1;
  const bool little = tiff.substr(0, 2) == "II";
  if (!little && tiff.substr(0, 2) != "MM") return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    if (at + 2 > tiff.size()) return 0;
    const uint32_t v = Big16(tiff, at);
    return little ? ((v & 0xff) << 8) | (v >> 8) : v;
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return little ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  const size_t ifd = u32(4);
  const uint32_t entries = u16(ifd);
  for (uint32_t e = 0; e < entries && ifd + 2 + 12 * (e + 1) <= tiff.size(); ++e) {
    const size_t at = ifd + 2 + 12 * e;
    if (u16(at) == 0x0112) {
      const uint32_t v = u16(at + 8);
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}

void ReadApp(std::string_view body, int marker, JpegMarkers& m) {
  constexpr std::string_view kExif("Exif\0\0", 6), kIcc("ICC_PROFILE\0", 12);
  if (marker == 0xE1 && body.substr(0, kExif.size()) == kExif) {
    m.orientation = ExifOrientation(body.substr(kExif.size()));
  } else if (marker == 0xE2 && body.substr(0, kIcc.size()) == kIcc && body.size() > 14) {
    m.icc.append(body.substr(14));  // after the sequence number and the chunk count
  } else if (marker == 0xEE && body.substr(0, 5) == "Adobe") {
    m.adobe = true;
  }
}

}  // namespace

JpegMarkers ReadJpegMarkers(std::string_view jpeg) {
  JpegMarkers m;
  if (jpeg.size() < 4 || Big16(jpeg, 0) != 0xFFD8) return m;
  bool frame = false;
  for (size_t at = 2; at + 4 <= jpeg.size();) {
    if (static_cast<uint8_t>(jpeg[at]) != 0xFF) return m;
    const int marker = static_cast<uint8_t>(jpeg[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    const size_t length = Big16(jpeg, at + 2);
    if (length < 2 || at + 2 + length > jpeg.size()) return m;
    const std::string_view body = jpeg.substr(at + 4, length - 2);
    if (marker == 0xDA) {
      m.clean = frame;
      return m;
    }
    const bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (frame || body.size() < 6) return m;  // a second frame header is not a JPEG we know
      frame = true;
      m.baseline = marker == 0xC0 || marker == 0xC1;
      m.components = static_cast<uint8_t>(body[5]);
    } else if (marker >= 0xE0 && marker <= 0xEF) {
      ReadApp(body, marker, m);
    }
    at += 2 + length;
  }
  return m;
}

bool IsSrgbProfile(std::string_view icc) {
  constexpr size_t kHeader = 128;
  // A well-formed profile only: its stated size, signature and a tag table that fits. Any
  // damage sends the image to libvips, which reports it as a warning of that image.
  if (icc.size() < kHeader + 4 || Big32(icc, 0) != icc.size() || icc.substr(36, 4) != "acsp" ||
      icc.substr(16, 4) != "RGB ") {
    return false;
  }
  const uint64_t tags = Big32(icc, kHeader);
  if (kHeader + 4 + 12 * tags > icc.size()) return false;
  for (uint32_t t = 0; t < tags; ++t) {
    const size_t entry = kHeader + 4 + 12 * t;
    if (icc.substr(entry, 4) != "desc") continue;
    const size_t offset = Big32(icc, entry + 4), size = Big32(icc, entry + 8);
    if (offset > icc.size() || size > icc.size() - offset) return false;
    // v2 'desc' holds ASCII; v4 'mluc' holds UTF-16BE, whose every other byte spells it too.
    std::string text;
    for (char c : icc.substr(offset, size)) {
      if (c != '\0') text += c;
    }
    return text.find("sRGB") != std::string::npos;
  }
  return false;
}

}  // namespace pixelmill
