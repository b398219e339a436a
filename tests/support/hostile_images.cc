#include "tests/support/hostile_images.h"

#include <glib.h>
#include <vips/vips8>

#include <algorithm>
#include <memory>

namespace pixelmill::fixture {
uint32_t Crc32(std::string_view bytes) {
  uint32_t crc = 0xffffffffu;
  for (char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

namespace {

using vips::VImage;

constexpr int kAnimationFrames = 200;
constexpr int kFrameSide = 32;
constexpr int kProgressiveSide = 3000;

struct GFreeDeleter {
  void operator()(void* p) const { g_free(p); }
};

std::string Encode(const VImage& image, const char* suffix) {
  void* data = nullptr;
  size_t size = 0;
  image.write_to_buffer(suffix, &data, &size);
  std::unique_ptr<void, GFreeDeleter> owned(data);
  return std::string(static_cast<const char*>(data), size);
}

// `count` deterministic pseudo-random bytes.
std::string Garbage(size_t count, uint32_t seed) {
  std::string out(count, '\0');
  for (char& c : out) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return out;
}

// An sRGB uchar picture: red rises to the right, green downwards, blue is constant. Built from
// one row and one column stretched by embed, so even 3000x3000 costs no per-pixel arithmetic.
VImage Gradient(int width, int height) {
  VImage row =
      (VImage::xyz(width, 1)[0] * (255.0 / std::max(1, width - 1))).cast(VIPS_FORMAT_UCHAR);
  VImage column =
      (VImage::xyz(1, height)[1] * (255.0 / std::max(1, height - 1))).cast(VIPS_FORMAT_UCHAR);
  VImage red = row.embed(0, 0, width, height, VImage::option()->set("extend", VIPS_EXTEND_COPY));
  VImage green =
      column.embed(0, 0, width, height, VImage::option()->set("extend", VIPS_EXTEND_COPY));
  VImage blue = VImage::black(width, height) + 96;
  return VImage::bandjoin({red, green, blue.cast(VIPS_FORMAT_UCHAR)})
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

void AppendBigEndian32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

void AppendLittleEndian16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value & 0xff));
  out.push_back(static_cast<char>(value >> 8));
}

void AppendPngChunk(std::string& out, std::string_view type, std::string_view data) {
  AppendBigEndian32(out, static_cast<uint32_t>(data.size()));
  std::string body(type);
  body.append(data);
  out.append(body);
  AppendBigEndian32(out, Crc32(body));
}

// A real 16x16 baseline JPEG with 65000x65000 written into its SOF0, cut after the scan
// header and followed by garbage instead of entropy-coded data.
std::string MakeJpegBomb() {
  std::string jpeg = Encode(Gradient(16, 16), ".jpg[Q=75,strip]");
  size_t at = 2;  // after SOI
  bool patched = false;
  while (at + 4 <= jpeg.size() && static_cast<unsigned char>(jpeg[at]) == 0xff) {
    const auto marker = static_cast<unsigned char>(jpeg[at + 1]);
    const size_t length =
        static_cast<unsigned char>(jpeg[at + 2]) * 256u + static_cast<unsigned char>(jpeg[at + 3]);
    if (marker == 0xc0 && at + 9 <= jpeg.size()) {
      // FF C0, length (2), precision (1), then height and width, big-endian.
      for (size_t i : {at + 5, at + 7}) jpeg.replace(i, 2, "\xfd\xe8", 2);  // 65000
      patched = true;
    }
    at += 2 + length;
    if (marker == 0xda) break;  // SOS: the entropy-coded data starts here
  }
  if (!patched) throw vips::VError("jpegsave wrote no SOF0 to patch");
  jpeg.resize(std::min(at, jpeg.size()));
  return jpeg + Garbage(64, 0x1badb002u);
}

// GIF89a declaring 65535x65535 twice (logical screen, image descriptor), a 2-colour global
// table, and an LZW stream of clear, 0, 1, end-of-information: two pixels of data.
std::string MakeGifBomb() {
  std::string gif = "GIF89a";
  AppendLittleEndian16(gif, 0xffff);
  AppendLittleEndian16(gif, 0xffff);
  gif.append("\x80\x00\x00", 3);  // global colour table of 2 entries, background 0, no aspect
  gif.append("\x00\x00\x00\xff\xff\xff", 6);
  gif.push_back('\x2c');  // image descriptor
  AppendLittleEndian16(gif, 0);
  AppendLittleEndian16(gif, 0);
  AppendLittleEndian16(gif, 0xffff);
  AppendLittleEndian16(gif, 0xffff);
  gif.push_back('\x00');  // no local table, not interlaced
  // Minimum code size 2 (3-bit codes); codes 4 (clear), 0, 1, 5 (end) packed LSB first.
  gif.append("\x02\x02\x44\x0a\x00", 5);
  gif.push_back('\x3b');  // trailer
  return gif;
}

std::string MakeSvg() {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<!DOCTYPE svg [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\">"
         "<rect width=\"64\" height=\"64\" fill=\"#3a7\"/><text x=\"2\" "
         "y=\"32\">&x;</text></svg>\n";
}

// A real HEIC when this libvips has a HEIF saver that can encode HEVC; otherwise an ISOBMFF
// 'ftyp' box with major brand heic followed by garbage.
std::string MakeHeic() {
  if (vips_foreign_find_save_buffer(".heic") != nullptr) {
    try {
      return Encode(Gradient(64, 64), ".heic[Q=50,compression=hevc,strip]");
    } catch (const vips::VError&) {
      vips_error_clear();  // no HEVC encoder in libheif: fall through to the fake
    }
  }
  std::string heic;
  AppendBigEndian32(heic, 24);
  heic.append("ftypheic");
  AppendBigEndian32(heic, 0);
  heic.append("mif1heic");
  return heic + Garbage(256, 0x4e1cu);
}

// kAnimationFrames frames of kFrameSide x kFrameSide stacked into one tall image: a flat
// colour with an 8x8 square that moves each frame, page-height kFrameSide, 40 ms per frame.
VImage MakeAnimation() {
  const int height = kFrameSide * kAnimationFrames;
  VImage xy = VImage::xyz(kFrameSide, height);
  VImage x = xy[0];
  VImage frame = (xy[1] / kFrameSide).floor();
  VImage y = xy[1] - frame * kFrameSide;
  VImage square_x = (frame * 3) % (kFrameSide - 8);
  VImage square_y = (frame * 5) % (kFrameSide - 8);
  VImage inside = (x >= square_x) & (x < square_x + 8) & (y >= square_y) & (y < square_y + 8);
  VImage animation =
      inside.ifthenelse(std::vector<double>{250, 220, 40}, std::vector<double>{30, 60, 150})
          .cast(VIPS_FORMAT_UCHAR)
          .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  animation.set("page-height", kFrameSide);
  animation.set("delay", std::vector<int>(kAnimationFrames, 40));
  animation.set("loop", 0);
  return animation;
}

VImage MakeCmyk() { return Gradient(64, 64).colourspace(VIPS_INTERPRETATION_CMYK); }

// 64x64 RGB at 16 bits per sample plus a 16-bit alpha ramp.
VImage MakePng16Alpha() {
  VImage rgb = (Gradient(64, 64).cast(VIPS_FORMAT_USHORT) * 257).cast(VIPS_FORMAT_USHORT);
  VImage alpha = (VImage::xyz(64, 64)[0] * 1000 + 2000).cast(VIPS_FORMAT_USHORT);
  return rgb.bandjoin(alpha).copy(
      VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
}

VImage MakeExif6() {
  VImage image = Gradient(40, 20).copy();
  image.set("orientation", 6);
  return image;
}

// libvips writes exif-ifdN-* string fields into the EXIF block on save; ifd3 is the GPS IFD.
VImage MakeGps() {
  VImage image = Gradient(32, 32).copy();
  image.set("exif-ifd3-GPSLatitudeRef", "N");
  image.set("exif-ifd3-GPSLatitude", "48/1 51/1 2400/100");
  image.set("exif-ifd3-GPSLongitudeRef", "E");
  image.set("exif-ifd3-GPSLongitude", "2/1 17/1 4000/100");
  return image;
}

}  // namespace

std::string MakePngBomb(uint32_t side) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  AppendBigEndian32(ihdr, side);
  AppendBigEndian32(ihdr, side);
  ihdr.append({8, 0, 0, 0, 0});  // bit depth 8, greyscale, deflate, adaptive filter, no interlace
  AppendPngChunk(png, "IHDR", ihdr);
  std::string idat("\x78\x01", 2);         // zlib header: deflate, 32K window
  idat.append("\x00\x00\x01\xff\xfe", 5);  // stored block, not final, LEN 256
  idat.append(256, '\0');
  AppendPngChunk(png, "IDAT", idat);
  AppendPngChunk(png, "IEND", "");
  return png;
}

std::string MakeDamagedIccJpeg(bool damaged) {
  VipsBlob* blob = nullptr;
  if (vips_profile_load("srgb", &blob, nullptr) != 0) throw vips::VError();
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  VImage image = Gradient(32, 24);
  vips_image_set_blob_copy(image.get_image(), "icc-profile-data", data, length);
  vips_area_unref(reinterpret_cast<VipsArea*>(blob));
  std::string jpeg = Encode(image, ".jpg");
  // The APP2 segment: "ICC_PROFILE\0", sequence number, count, then the profile, whose tag
  // count (at offset 128) becomes absurd.
  const size_t profile = jpeg.find(std::string("ICC_PROFILE\0", 12));
  if (profile == std::string::npos) throw vips::VError("jpegsave embedded no ICC profile");
  if (damaged) jpeg.replace(profile + 14 + 128, 4, "\x7f\x7f\x7f\x7f");
  return jpeg;
}

std::vector<std::string> MakeHostileImages() {
  std::vector<std::string> out(kHostileSpecs.size());
  auto at = [&](HostileKind kind) -> std::string& { return out[static_cast<size_t>(kind)]; };
  at(HostileKind::kBombJpeg) = MakeJpegBomb();
  at(HostileKind::kBombGif) = MakeGifBomb();
  at(HostileKind::kBombPng50k) = MakePngBomb(50000);
  at(HostileKind::kSvg) = MakeSvg();
  at(HostileKind::kTiff) = Encode(Gradient(64, 64), ".tif[compression=deflate,strip]");
  at(HostileKind::kHeic) = MakeHeic();
  at(HostileKind::kProgressiveBig) =
      Encode(Gradient(kProgressiveSide, kProgressiveSide), ".jpg[Q=75,interlace,strip]");
  VImage animation = MakeAnimation();
  at(HostileKind::kAnimatedGif) = Encode(animation, ".gif");
  at(HostileKind::kAnimatedWebp) = Encode(animation, ".webp[Q=50,strip]");
  at(HostileKind::kCmykJpeg) = Encode(MakeCmyk(), ".jpg[Q=85,strip]");
  at(HostileKind::kPng16Alpha) = Encode(MakePng16Alpha(), ".png[bitdepth=16,strip]");
  at(HostileKind::kTiny) = Encode(Gradient(1, 1), ".jpg[Q=85,strip]");
  at(HostileKind::kExif6) = Encode(MakeExif6(), ".jpg[Q=85]");
  at(HostileKind::kGps) = Encode(MakeGps(), ".jpg[Q=85]");
  at(HostileKind::kZero).clear();
  return out;
}

}  // namespace pixelmill::fixture
