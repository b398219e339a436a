#include "common/image/image_probe.h"

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace pixelmill {
namespace {

// An AVIF file may not make ProbeImage visit more boxes than this (all levels together).
constexpr int kMaxBoxes = 4096;

uint32_t Byte(std::string_view b, uint64_t at) { return static_cast<unsigned char>(b[at]); }
// True when [at, at + n) lies within `b`.
bool Has(std::string_view b, uint64_t at, uint64_t n) {
  return at <= b.size() && n <= b.size() - at;
}
uint32_t Be16(std::string_view b, uint64_t at) { return Byte(b, at) << 8 | Byte(b, at + 1); }
uint32_t Be32(std::string_view b, uint64_t at) { return Be16(b, at) << 16 | Be16(b, at + 2); }
uint32_t Le16(std::string_view b, uint64_t at) { return Byte(b, at) | Byte(b, at + 1) << 8; }
uint32_t Le24(std::string_view b, uint64_t at) { return Le16(b, at) | Byte(b, at + 2) << 16; }
uint32_t Le32(std::string_view b, uint64_t at) { return Le16(b, at) | Le16(b, at + 2) << 16; }

// Up to the first four bytes in hex, e.g. "3c 21 44 4f".
std::string HexPrefix(std::string_view b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < b.size() && i < 4; ++i) {
    if (i > 0) out += ' ';
    out += kDigits[Byte(b, i) >> 4];
    out += kDigits[Byte(b, i) & 15];
  }
  return out;
}

// `s` with bytes outside printable ASCII replaced by '?', for quoting untrusted names.
std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

Status NotImage(std::string message) { return Status::Error(Code::kNotImage, std::move(message)); }
Status Truncated(std::string_view format, std::string_view missing, std::string_view b) {
  return NotImage(std::string(format) + " is truncated: " + std::string(missing) + " in " +
                  std::to_string(b.size()) + " bytes");
}
Status Malformed(std::string_view format, std::string_view problem) {
  return NotImage(std::string(format) + " is malformed: " + std::string(problem));
}
Status CheckSize(std::string_view format, const ImageHeader& header) {
  if (header.width != 0 && header.height != 0) return Status::Ok();
  return NotImage(std::string(format) + " declares an empty image (" +
                  std::to_string(header.width) + "x" + std::to_string(header.height) + ")");
}

// SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC).
bool IsStartOfFrame(uint32_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

Result<ImageHeader> ProbeJpeg(std::string_view b) {
  ImageHeader header{OutputFormat::kJpeg};
  bool have_frame = false;
  size_t pos = 2;  // after SOI
  while (true) {
    const char* missing = have_frame ? "no scan (SOS)" : "no frame header (SOF)";
    if (pos >= b.size()) return Truncated("JPEG", missing, b);
    if (Byte(b, pos) != 0xFF) return Malformed("JPEG", "no marker at byte " + std::to_string(pos));
    while (pos < b.size() && Byte(b, pos) == 0xFF) ++pos;  // fill bytes
    if (pos >= b.size()) return Truncated("JPEG", missing, b);
    const uint32_t marker = Byte(b, pos++);
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // TEM, RSTn: no length
    if (marker == 0x00 || marker == 0xD8 || marker == 0xD9) {
      return Malformed("JPEG", "marker ff " + HexPrefix(b.substr(pos - 1, 1)) + " before the scan");
    }
    if (!Has(b, pos, 2)) return Truncated("JPEG", missing, b);
    const size_t length = Be16(b, pos);  // counts its own two bytes
    if (length < 2)
      return Malformed("JPEG", "segment length below 2 at byte " + std::to_string(pos));
    if (IsStartOfFrame(marker) && !have_frame) {
      if (length < 8) return Malformed("JPEG", "frame header (SOF) shorter than 8 bytes");
      if (!Has(b, pos, length)) return Truncated("JPEG", "no complete frame header (SOF)", b);
      header.height = Be16(b, pos + 3);  // 0 would mean "defined later by DNL": refused too
      header.width = Be16(b, pos + 5);
      if (Status s = CheckSize("JPEG", header); !s.ok()) return s;
      have_frame = true;
    } else if (marker == 0xDA) {
      if (!have_frame) return Malformed("JPEG", "scan (SOS) before the frame header (SOF)");
      if (!Has(b, pos, length)) return Truncated("JPEG", "no complete scan header (SOS)", b);
      return header;  // the entropy-coded data starts right after
    }
    pos += length;
  }
}

Result<ImageHeader> ProbePng(std::string_view b) {
  if (!Has(b, 8, 8 + 13)) return Truncated("PNG", "no complete header chunk (IHDR)", b);
  if (Be32(b, 8) != 13 || b.substr(12, 4) != "IHDR") {
    return Malformed("PNG", "the first chunk is not a 13-byte IHDR");
  }
  ImageHeader header{OutputFormat::kPng, Be32(b, 16), Be32(b, 20)};
  if (header.width > 0x7FFFFFFF || header.height > 0x7FFFFFFF) {
    return Malformed("PNG", "width or height above 2^31-1");
  }
  if (Status s = CheckSize("PNG", header); !s.ok()) return s;
  size_t pos = 8 + 12 + 13;  // signature, IHDR
  while (true) {
    if (!Has(b, pos, 8)) return Truncated("PNG", "no image data (IDAT)", b);
    const uint32_t length = Be32(b, pos);
    const std::string_view type = b.substr(pos + 4, 4);
    if (type == "IDAT") return header;
    if (type == "IEND") return Malformed("PNG", "it ends (IEND) before any image data (IDAT)");
    if (length > 0x7FFFFFFF) return Malformed("PNG", "chunk length above 2^31-1");
    pos += 12 + size_t{length};  // length, type, data, CRC
  }
}

Result<ImageHeader> ProbeGif(std::string_view b) {
  if (!Has(b, 0, 13)) return Truncated("GIF", "no complete logical screen descriptor", b);
  ImageHeader header{OutputFormat::kGif, Le16(b, 6), Le16(b, 8)};
  if (Status s = CheckSize("GIF", header); !s.ok()) return s;
  const uint32_t flags = Byte(b, 10);
  size_t pos = 13;
  if (flags & 0x80) pos += 3u << ((flags & 7) + 1);  // global color table
  while (true) {
    if (pos >= b.size()) return Truncated("GIF", "no image descriptor", b);
    const uint32_t block = Byte(b, pos);
    if (block == 0x2C) {
      if (!Has(b, pos, 10)) return Truncated("GIF", "no complete image descriptor", b);
      return header;
    }
    if (block == 0x3B) return Malformed("GIF", "it ends (trailer) before any image");
    if (block != 0x21) {
      return Malformed("GIF", "unknown block " + HexPrefix(b.substr(pos, 1)) + " at byte " +
                                  std::to_string(pos));
    }
    pos += 2;  // extension introducer and label, then data sub-blocks up to an empty one
    for (uint32_t n = 1; n != 0; pos += 1 + n) {
      if (pos >= b.size()) return Truncated("GIF", "no image descriptor", b);
      n = Byte(b, pos);
    }
  }
}

// The dimensions from the VP8 (lossy) or VP8L (lossless) chunk whose header is at `pos`.
Status ReadWebpBitstream(std::string_view b, size_t pos, ImageHeader& header) {
  const bool lossy = b.substr(pos, 4) == "VP8 ";
  const size_t need = lossy ? 10 : 5;
  const size_t data = pos + 8;
  if (Le32(b, pos + 4) < need) return Malformed("WebP", "bitstream chunk too short");
  if (!Has(b, data, need)) return Truncated("WebP", "no complete bitstream header", b);
  if (lossy) {
    if (Byte(b, data) & 1) return Malformed("WebP", "the VP8 frame is not a key frame");
    if (b.substr(data + 3, 3) != "\x9d\x01\x2a") return Malformed("WebP", "bad VP8 start code");
    header.width = Le16(b, data + 6) & 0x3FFF;
    header.height = Le16(b, data + 8) & 0x3FFF;
    return CheckSize("WebP", header);
  }
  if (Byte(b, data) != 0x2F) return Malformed("WebP", "bad VP8L signature");
  const uint32_t bits = Le32(b, data + 1);
  if (bits >> 29 != 0) return Malformed("WebP", "unknown VP8L version");
  header.width = (bits & 0x3FFF) + 1;
  header.height = ((bits >> 14) & 0x3FFF) + 1;
  return Status::Ok();
}

Result<ImageHeader> ProbeWebp(std::string_view b) {
  ImageHeader header{OutputFormat::kWebp};
  if (!Has(b, 12, 8)) return Truncated("WebP", "no first chunk", b);
  const std::string_view first = b.substr(12, 4);
  if (first == "VP8 " || first == "VP8L") {
    if (Status s = ReadWebpBitstream(b, 12, header); !s.ok()) return s;
    return header;
  }
  if (first != "VP8X") {
    return Malformed("WebP",
                     "the first chunk is '" + Printable(first) + "', not VP8, VP8L or VP8X");
  }
  const size_t length = Le32(b, 16);
  if (length < 10) return Malformed("WebP", "extended header (VP8X) too short");
  if (!Has(b, 20, 10)) return Truncated("WebP", "no complete extended header (VP8X)", b);
  header.width = Le24(b, 24) + 1;  // the canvas
  header.height = Le24(b, 27) + 1;
  for (size_t pos = 20 + length + (length & 1);;) {
    if (!Has(b, pos, 8)) return Truncated("WebP", "no image data (VP8, VP8L or ANMF chunk)", b);
    const std::string_view type = b.substr(pos, 4);
    if (type == "ANMF") return header;
    if (type == "VP8 " || type == "VP8L") {
      ImageHeader frame;
      if (Status s = ReadWebpBitstream(b, pos, frame); !s.ok()) return s;
      return header;
    }
    const size_t chunk = Le32(b, pos + 4);
    pos += 8 + chunk + (chunk & 1);  // chunks are padded to even sizes
  }
}

Result<ImageHeader> ProbeTiff(std::string_view b) {
  const bool little = b[0] == 'I';
  const auto u16 = [&](uint64_t at) { return little ? Le16(b, at) : Be16(b, at); };
  const auto u32 = [&](uint64_t at) { return little ? Le32(b, at) : Be32(b, at); };
  if (!Has(b, 0, 8)) return Truncated("TIFF", "no directory offset", b);
  const uint64_t ifd = u32(4);
  if (ifd < 8) return Malformed("TIFF", "the directory offset points into the file header");
  const std::string at_ifd = "image file directory (at byte " + std::to_string(ifd) + ")";
  if (!Has(b, ifd, 2)) return Truncated("TIFF", "no " + at_ifd, b);
  const uint64_t count = u16(ifd);
  if (count == 0) return Malformed("TIFF", "empty image file directory");
  if (!Has(b, ifd + 2, 12 * count)) return Truncated("TIFF", "no complete " + at_ifd, b);
  std::optional<uint32_t> width, height, data;
  for (uint64_t e = ifd + 2; e < ifd + 2 + 12 * count; e += 12) {
    const uint32_t tag = u16(e), type = u16(e + 2), n = u32(e + 4);
    if (tag != 256 && tag != 257 && tag != 273 && tag != 324) continue;
    if ((type != 3 && type != 4) || n == 0) {
      return Malformed("TIFF", "tag " + std::to_string(tag) + " is not a SHORT or LONG value");
    }
    const uint64_t unit = type == 3 ? 2 : 4;
    uint64_t at = e + 8;  // the value itself if it fits in 4 bytes, else its offset
    if (n > 4 / unit) {
      at = u32(e + 8);
      if (!Has(b, at, unit)) return Truncated("TIFF", "no value of tag " + std::to_string(tag), b);
    }
    const uint32_t value = unit == 2 ? u16(at) : u32(at);
    if (tag == 256) {
      width = value;
    } else if (tag == 257) {
      height = value;
    } else {
      data = value;  // the first strip or tile
    }
  }
  if (!width || !height) return Malformed("TIFF", "no ImageWidth or ImageLength tag");
  ImageHeader header{OutputFormat::kTiff, *width, *height};
  if (Status s = CheckSize("TIFF", header); !s.ok()) return s;
  if (!data) return Malformed("TIFF", "no StripOffsets or TileOffsets tag");
  if (*data > b.size()) {
    return Truncated("TIFF", "no image data (it starts at byte " + std::to_string(*data) + ")", b);
  }
  return header;
}

struct Box {
  std::string_view type;
  uint64_t body = 0;  // offset of the contents, after the header
  uint64_t end = 0;   // may lie beyond the bytes, or before `body` in a malformed box
};

// Reads the header of the box at `pos` in a parent ending at `end` (<= b.size()); false when the
// header does not fit. Size 0 means "to the end of the parent" (the file, for a top-level box).
bool ReadBox(std::string_view b, uint64_t pos, uint64_t end, Box& box) {
  if (pos > end || end - pos < 8) return false;
  uint64_t size = Be32(b, pos);
  box.type = b.substr(pos + 4, 4);
  box.body = pos + 8;
  if (size == 1) {  // 64-bit largesize follows the type
    if (end - pos < 16) return false;
    size = uint64_t{Be32(b, pos + 8)} << 32 | Be32(b, pos + 12);
    box.body = pos + 16;
  } else if (size == 0) {
    size = end - pos;
  }
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  box.end = size > max - pos ? max : pos + size;
  return true;
}

// Calls `visit(box)` for each box in [pos, end) (within `b`) until it returns an error.
template <typename Visit>
Status ForEachBox(std::string_view b, uint64_t pos, uint64_t end, int& budget, Visit visit) {
  while (pos < end) {
    Box box;
    if (--budget < 0) return Malformed("AVIF", "too many boxes");
    if (!ReadBox(b, pos, end, box) || box.end < box.body || box.end > end) {
      return Malformed("AVIF", "a box overflows its parent at byte " + std::to_string(pos));
    }
    if (Status s = visit(box); !s.ok()) return s;
    pos = box.end;
  }
  return Status::Ok();
}

// The largest image spatial extents (meta/iprp/ipco/ispe) in `meta`, which lies within `b`:
// the primary image's size (thumbnails are smaller; alpha planes and grid tiles not larger).
Status ReadAvifSize(std::string_view b, const Box& meta, int& budget, ImageHeader& header) {
  if (meta.end - meta.body < 4) return Malformed("AVIF", "metadata box (meta) too short");
  const auto ispe = [&](const Box& box) {
    if (box.type != "ispe") return Status::Ok();
    if (box.end - box.body < 12) return Malformed("AVIF", "image extents box (ispe) too short");
    const uint32_t width = Be32(b, box.body + 4), height = Be32(b, box.body + 8);  // FullBox
    if (uint64_t{width} * height >= uint64_t{header.width} * header.height) {
      header.width = width;
      header.height = height;
    }
    return Status::Ok();
  };
  const auto ipco = [&](const Box& box) {
    return box.type != "ipco" ? Status::Ok() : ForEachBox(b, box.body, box.end, budget, ispe);
  };
  const auto iprp = [&](const Box& box) {
    return box.type != "iprp" ? Status::Ok() : ForEachBox(b, box.body, box.end, budget, ipco);
  };
  if (Status s = ForEachBox(b, meta.body + 4, meta.end, budget, iprp); !s.ok()) return s;
  return CheckSize("AVIF", header);
}

Result<ImageHeader> ProbeAvif(std::string_view b) {
  Box ftyp;
  if (!ReadBox(b, 0, b.size(), ftyp)) return Truncated("AVIF", "no file type box (ftyp)", b);
  if (ftyp.end < ftyp.body + 8) return Malformed("AVIF", "file type box (ftyp) too short");
  if (ftyp.end > b.size()) return Truncated("AVIF", "no complete file type box (ftyp)", b);
  bool avif = false;
  for (uint64_t at = ftyp.body; at + 4 <= ftyp.end; at += at == ftyp.body ? 8 : 4) {
    avif = avif || b.substr(at, 4) == "avif" || b.substr(at, 4) == "avis";  // major, compatible
  }
  if (!avif) {
    return NotImage("not a supported image (ISO media file of brand '" +
                    Printable(b.substr(ftyp.body, 4)) + "', not AVIF)");
  }
  ImageHeader header{OutputFormat::kAvif};
  bool have_meta = false, have_mdat = false;
  int budget = kMaxBoxes;
  for (uint64_t pos = ftyp.end; !have_meta || !have_mdat;) {
    Box box;
    if (--budget < 0) return Malformed("AVIF", "too many boxes");
    if (!ReadBox(b, pos, b.size(), box)) {
      return Truncated("AVIF", have_meta ? "no media data box (mdat)" : "no metadata box (meta)",
                       b);
    }
    if (box.end < box.body) return Malformed("AVIF", "box smaller than its header");
    if (box.type == "mdat") {
      have_mdat = true;
    } else if (box.type == "meta" && !have_meta) {
      if (box.end > b.size()) return Truncated("AVIF", "no complete metadata box (meta)", b);
      if (Status s = ReadAvifSize(b, box, budget, header); !s.ok()) return s;
      have_meta = true;
    }
    pos = box.end;
  }
  return header;
}

}  // namespace

Result<ImageHeader> ProbeImage(std::string_view bytes) {
  switch (SniffImageFormat(bytes)) {
    case OutputFormat::kJpeg:
      return ProbeJpeg(bytes);
    case OutputFormat::kPng:
      return ProbePng(bytes);
    case OutputFormat::kWebp:
      return ProbeWebp(bytes);
    case OutputFormat::kGif:
      return ProbeGif(bytes);
    case OutputFormat::kTiff:
      return ProbeTiff(bytes);
    default:
      break;
  }
  if (Has(bytes, 4, 4) && bytes.substr(4, 4) == "ftyp") return ProbeAvif(bytes);  // any brand
  if (bytes.empty()) return NotImage("not a supported image (no bytes)");
  return NotImage("not a supported image (starts with " + HexPrefix(bytes) + ")");
}

}  // namespace pixelmill
