#include "common/image/image_probe.h"

#include <vips/vips8>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/image_bank.h"

namespace pixelmill {
namespace {

constexpr uint32_t kWidth = 37;
constexpr uint32_t kHeight = 23;

// A real image and where its image data begins: every shorter prefix lacks part of the headers.
struct Sample {
  std::string name;
  OutputFormat format;
  std::string bytes;
  size_t header_end;
  uint32_t width = kWidth, height = kHeight;
};

uint32_t Le16(std::string_view b, size_t at) {
  return static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8;
}
uint32_t Le32(std::string_view b, size_t at) { return Le16(b, at) | Le16(b, at + 2) << 16; }
uint32_t Be16(std::string_view b, size_t at) {
  return static_cast<unsigned char>(b[at]) << 8 | static_cast<unsigned char>(b[at + 1]);
}

// The end of each format's last header before the image data, located independently of the
// probe: searched for, or read from the one or two fields that point at it.
size_t Find(std::string_view bytes, std::string_view what) {
  const size_t at = bytes.find(what);
  if (at == std::string_view::npos) ADD_FAILURE() << "no " << what;
  return at;
}
size_t JpegHeaderEnd(std::string_view b) {  // the first scan header (SOS)
  const size_t sos = Find(b, "\xFF\xDA");
  return sos + 2 + Be16(b, sos + 2);
}
size_t WebpHeaderEnd(std::string_view b) {  // the bitstream's frame header
  const size_t lossy = b.find("VP8 ");
  return lossy != std::string_view::npos ? lossy + 8 + 10 : Find(b, "VP8L") + 8 + 5;
}
size_t GifHeaderEnd(std::string_view b) {  // the descriptor of a full-size image at 0,0
  const std::string descriptor{
      '\x2C', 0, 0, 0, 0, static_cast<char>(kWidth), 0, static_cast<char>(kHeight), 0};
  return Find(b, descriptor) + 10;
}
size_t TiffHeaderEnd(std::string_view b) {  // IFD0, and the strip or tile offsets if separate
  EXPECT_EQ(b.substr(0, 2), "II");
  const size_t ifd = Le32(b, 4);
  size_t end = ifd + 2 + 12 * Le16(b, ifd);
  for (size_t e = ifd + 2; e + 12 <= end; e += 12) {
    const size_t unit = Le16(b, e + 2) == 3 ? 2 : 4;
    if ((Le16(b, e) == 273 || Le16(b, e) == 324) && Le32(b, e + 4) * unit > 4) {
      end = std::max<size_t>(end, Le32(b, e + 8) + unit);
    }
  }
  return end;
}

// The VP8 or VP8L chunk of `webp` alone in WebP's simple format (RIFF, WEBP, one chunk), as
// other encoders write it; libvips always writes the extended format (VP8X first).
std::string SimpleWebp(std::string_view webp, std::string_view fourcc) {
  const size_t at = Find(webp, fourcc);
  const size_t chunk = 8 + Le32(webp, at + 4) + (Le32(webp, at + 4) & 1);
  std::string out = "RIFF";
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<char>((4 + chunk) >> shift));
  }
  return out.append("WEBP").append(webp.substr(at, chunk));
}

bool VipsReady() {
  static const bool ready = [] {
    if (VIPS_INIT("common_test") != 0) return false;
    vips_concurrency_set(1);
    return true;
  }();
  return ready;
}

std::optional<std::string> EncodeOrNothing(const vips::VImage& image, const char* suffix) {
  try {
    void* data = nullptr;
    size_t size = 0;
    image.write_to_buffer(suffix, &data, &size);
    std::string bytes(static_cast<const char*>(data), size);
    g_free(data);
    return bytes;
  } catch (const vips::VError&) {
    return std::nullopt;
  }
}

// Real kWidth x kHeight images: the fixture server's JPEG, PNG and WebP (ImageBank), and
// libvips' other savers. AVIF is missing when libheif here has no AV1 encoder.
const std::vector<Sample>& Samples() {
  static const std::vector<Sample> samples = [] {
    std::vector<Sample> out;
    if (!VipsReady()) return out;
    std::string error;
    const std::optional<fixture::ImageBank> bank =
        fixture::ImageBank::Create(kWidth, kHeight, 1, error);
    if (!bank) return out;
    const auto served = [&](fixture::ImageFormat format) {
      return std::string(bank->Image(format, 0));
    };
    std::string jpeg = served(fixture::ImageFormat::kJpeg);
    std::string png = served(fixture::ImageFormat::kPng);
    std::string webp = served(fixture::ImageFormat::kWebp);
    out.push_back({"jpeg", OutputFormat::kJpeg, jpeg, JpegHeaderEnd(jpeg)});
    out.push_back({"png", OutputFormat::kPng, png, Find(png, "IDAT") + 4});
    out.push_back({"webp", OutputFormat::kWebp, webp, WebpHeaderEnd(webp)});

    using vips::VImage;
    const VImage xy = VImage::xyz(kWidth, kHeight);
    const VImage rgb =
        VImage::bandjoin({xy[0] * 6, xy[1] * 10, (xy[0] + xy[1]) * 4}).cast(VIPS_FORMAT_UCHAR);
    const VImage rgba = rgb.bandjoin_const({200});
    const auto add = [&](const char* name, OutputFormat format, const VImage& image,
                         const char* suffix, size_t (*header_end)(std::string_view)) {
      if (std::optional<std::string> bytes = EncodeOrNothing(image, suffix)) {
        out.push_back({name, format, *bytes, header_end(*bytes)});
      }
    };
    add("jpeg_progressive", OutputFormat::kJpeg, rgb, ".jpg[interlace,strip]", JpegHeaderEnd);
    add("webp_lossless", OutputFormat::kWebp, rgb, ".webp[lossless,strip]", WebpHeaderEnd);
    add("webp_alpha_vp8x", OutputFormat::kWebp, rgba, ".webp[Q=80]", WebpHeaderEnd);
    add("gif", OutputFormat::kGif, rgb, ".gif", GifHeaderEnd);
    add("tiff_strips", OutputFormat::kTiff, rgb, ".tif", TiffHeaderEnd);
    add("tiff_tiles", OutputFormat::kTiff, rgb, ".tif[tile,tile_width=16,tile_height=16]",
        TiffHeaderEnd);
    add("avif", OutputFormat::kAvif, rgb, ".heif[compression=av1]",
        [](std::string_view b) { return Find(b, "mdat") + 4; });
    for (size_t i = 0, n = out.size(); i < n; ++i) {
      const std::string_view fourcc = out[i].name == "webp" ? "VP8 " : "VP8L";
      if (out[i].name == "webp" || out[i].name == "webp_lossless") {
        const std::string simple = SimpleWebp(out[i].bytes, fourcc);
        out.push_back({fourcc == "VP8L" ? "webp_simple_lossless" : "webp_simple_lossy",
                       OutputFormat::kWebp, simple, WebpHeaderEnd(simple)});
      }
    }
    return out;
  }();
  return samples;
}

const Sample* SampleNamed(std::string_view name) {
  for (const Sample& sample : Samples()) {
    if (sample.name == name) return &sample;
  }
  return nullptr;
}

// Probes a heap copy of exactly bytes.size() bytes, so that ASan reports any read past the end.
Result<ImageHeader> ProbeCopy(std::string_view bytes) {
  const std::vector<char> copy(bytes.begin(), bytes.end());
  return ProbeImage(std::string_view(copy.data(), copy.size()));
}

// The message of a not_image result, or a failure naming what was accepted.
std::string Rejection(const Result<ImageHeader>& result) {
  if (result.ok()) {
    ADD_FAILURE() << "accepted as " << result->width << "x" << result->height;
    return "";
  }
  EXPECT_EQ(result.status().code(), Code::kNotImage);
  return result.status().message();
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

TEST(ImageProbeTest, AcceptsRealImagesOfEveryFormat) {
  ASSERT_TRUE(VipsReady());
  for (const char* name :
       {"jpeg", "png", "webp", "jpeg_progressive", "webp_lossless", "webp_alpha_vp8x",
        "webp_simple_lossless", "webp_simple_lossy", "gif", "tiff_strips", "tiff_tiles"}) {
    EXPECT_NE(SampleNamed(name), nullptr) << name << " could not be made";
  }
  for (const Sample& sample : Samples()) {
    SCOPED_TRACE(sample.name);
    EXPECT_EQ(SniffImageFormat(sample.bytes), sample.format);
    Result<ImageHeader> header = ProbeCopy(sample.bytes);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->format, sample.format);
    EXPECT_EQ(header->width, sample.width);
    EXPECT_EQ(header->height, sample.height);
  }
}

TEST(ImageProbeTest, AcceptsRealAvif) {
  ASSERT_TRUE(VipsReady());
  const Sample* avif = SampleNamed("avif");
  if (avif == nullptr) GTEST_SKIP() << "libvips here cannot save AVIF (heifsave with AV1)";
  Result<ImageHeader> header = ProbeCopy(avif->bytes);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->format, OutputFormat::kAvif);
  EXPECT_EQ(header->width, kWidth);
  EXPECT_EQ(header->height, kHeight);
}

TEST(ImageProbeTest, RejectsEveryPrefixThatEndsBeforeTheImageData) {
  ASSERT_FALSE(Samples().empty());
  for (const Sample& sample : Samples()) {
    SCOPED_TRACE(sample.name);
    ASSERT_GT(sample.header_end, 12u);
    ASSERT_LE(sample.header_end, sample.bytes.size());
    for (size_t n = 0; n <= sample.bytes.size(); ++n) {
      Result<ImageHeader> header = ProbeCopy(std::string_view(sample.bytes).substr(0, n));
      if (n < sample.header_end) {
        const std::string message = Rejection(header);
        if (n >= 12) {
          EXPECT_TRUE(Contains(message, "is truncated")) << n << ": " << message;
        }
      } else {
        ASSERT_TRUE(header.ok()) << n << ": " << header.status().ToString();
        EXPECT_EQ(header->width, sample.width) << n;
      }
    }
  }
}

TEST(ImageProbeTest, IgnoresEverythingAfterTheImageDataStarts) {
  ASSERT_FALSE(Samples().empty());
  for (const Sample& sample : Samples()) {
    SCOPED_TRACE(sample.name);
    std::string bytes = sample.bytes;
    for (size_t i = sample.header_end; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xFF);
    Result<ImageHeader> header = ProbeCopy(bytes);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->height, sample.height);
  }
}

// SOI, APP0 (JFIF), DQT and SOF0 of a 16x8 greyscale baseline JPEG.
std::string JpegHeaderWithoutScan() {
  std::string jpeg("\xFF\xD8", 2);
  jpeg.append("\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 18);
  jpeg.append("\xFF\xDB\x00\x43\x00", 5);
  jpeg.append(64, '\x01');
  jpeg.append("\xFF\xC0\x00\x0B\x08\x00\x08\x00\x10\x01\x01\x11\x00", 13);
  return jpeg;
}

TEST(ImageProbeTest, RejectsJpegHeaderWithoutScan) {
  const std::string header_only = JpegHeaderWithoutScan();
  const std::string message = Rejection(ProbeCopy(header_only));
  EXPECT_EQ(message,
            "JPEG is truncated: no scan (SOS) in " + std::to_string(header_only.size()) + " bytes");
  // The same header followed by a scan header (and fill bytes before it) is accepted.
  Result<ImageHeader> with_scan =
      ProbeCopy(header_only + std::string("\xFF\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 11));
  ASSERT_TRUE(with_scan.ok()) << with_scan.status().ToString();
  EXPECT_EQ(with_scan->width, 16u);
  EXPECT_EQ(with_scan->height, 8u);
  // Without SOF, the message says that the frame header is missing.
  EXPECT_TRUE(Contains(Rejection(ProbeCopy(header_only.substr(0, 89))), "no frame header (SOF)"));
}

TEST(ImageProbeTest, RejectsTextWithItsFirstBytes) {
  EXPECT_EQ(Rejection(ProbeCopy("<!DOCTYPE html><html><body>Not found</body></html>")),
            "not a supported image (starts with 3c 21 44 4f)");
  EXPECT_EQ(Rejection(ProbeCopy("{}")), "not a supported image (starts with 7b 7d)");
  EXPECT_EQ(Rejection(ProbeCopy("")), "not a supported image (no bytes)");
}

TEST(ImageProbeTest, RejectsPngWithZeroOrHugeDimensions) {
  const Sample* png = SampleNamed("png");
  ASSERT_NE(png, nullptr);
  for (size_t field : {16, 20}) {  // IHDR width, height
    std::string bytes = png->bytes;
    bytes.replace(field, 4, std::string(4, '\0'));
    EXPECT_TRUE(Contains(Rejection(ProbeCopy(bytes)), "PNG declares an empty image")) << field;
    bytes.replace(field, 4, "\x80\x00\x00\x00", 4);
    EXPECT_TRUE(Contains(Rejection(ProbeCopy(bytes)), "above 2^31-1")) << field;
  }
}

// An ISOBMFF box header: 32-bit big-endian size, then the type.
std::string BoxHeader(uint32_t size, std::string_view type) {
  std::string header;
  for (int shift = 24; shift >= 0; shift -= 8) header.push_back(static_cast<char>(size >> shift));
  return header.append(type);
}

// An ftyp box (major brand, minor version 0, compatible brands), then `rest`.
std::string IsoFile(std::string_view major, std::string_view compatible, std::string_view rest) {
  std::string file = BoxHeader(static_cast<uint32_t>(16 + compatible.size()), "ftyp");
  file.append(major).append(4, '\0').append(compatible).append(rest);
  return file;
}

TEST(ImageProbeTest, RejectsGarbageAfterAValidSignature) {
  std::mt19937 random(7);
  const std::vector<std::string> signatures = {std::string("\xFF\xD8\xFF", 3),
                                               std::string("\x89PNG\r\n\x1A\n", 8),
                                               std::string("RIFF\x00\x10\x00\x00WEBP", 12),
                                               "GIF89a",
                                               std::string("II*\0", 4),
                                               std::string("MM\0*", 4),
                                               IsoFile("avif", "avif", "")};
  for (const std::string& signature : signatures) {
    for (int i = 0; i < 200; ++i) {
      std::string bytes = signature;
      for (int j = 0; j < 600; ++j) bytes.push_back(static_cast<char>('A' + random() % 26));
      EXPECT_FALSE(ProbeCopy(bytes).ok()) << "after signature " << signature.substr(0, 4);
    }
  }
}

TEST(ImageProbeTest, ChecksTheFixtureServersSpecialBodies) {
  ASSERT_TRUE(VipsReady());
  std::string error;
  const std::optional<fixture::ImageBank> bank = fixture::ImageBank::Create(8, 8, 1, error);
  ASSERT_TRUE(bank.has_value()) << error;
  // The bomb has a valid header and image data: the probe passes it; its size is what tells.
  Result<ImageHeader> bomb = ProbeCopy(bank->Bomb());
  ASSERT_TRUE(bomb.ok()) << bomb.status().ToString();
  EXPECT_EQ(bomb->width, uint32_t{fixture::ImageBank::kBombSide});
  EXPECT_TRUE(Contains(Rejection(ProbeCopy(bank->Filler())), "JPEG is malformed"));
}

TEST(ImageProbeTest, ReadsBigEndianTiffWithShortAndLongValues) {
  std::string tiff("MM\0*\0\0\0\x08", 8);
  tiff.append("\x00\x03", 2);                                 // three entries
  tiff.append("\x01\x00\x00\x03\0\0\0\x01\x00\x05\0\0", 12);  // ImageWidth SHORT 5
  tiff.append("\x01\x01\x00\x04\0\0\0\x01\0\0\0\x03", 12);    // ImageLength LONG 3
  tiff.append("\x01\x11\x00\x04\0\0\0\x02\0\0\0\x32", 12);    // StripOffsets LONG[2] at 50
  tiff.append(4, '\0');                                       // no next IFD
  tiff.append("\0\0\0\x3A\0\0\0\x3D", 8);                     // strips at 58 and 61
  tiff.append(6, '\x7F');
  Result<ImageHeader> header = ProbeCopy(tiff);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->width, 5u);
  EXPECT_EQ(header->height, 3u);
  // Cut inside the array of strip offsets.
  EXPECT_TRUE(Contains(Rejection(ProbeCopy(tiff.substr(0, 52))), "no value of tag 273"));
  // Strips that start beyond the bytes.
  tiff[53] = '\x60';
  EXPECT_TRUE(Contains(Rejection(ProbeCopy(tiff)), "no image data (it starts at byte 96)"));
}

TEST(ImageProbeTest, RejectsIsoMediaThatIsNotAvifOrHostile) {
  EXPECT_EQ(Rejection(ProbeCopy(IsoFile("heic", "mif1heic", ""))),
            "not a supported image (ISO media file of brand 'heic', not AVIF)");
  // avif as a compatible brand only, but no meta box.
  EXPECT_TRUE(Contains(Rejection(ProbeCopy(IsoFile("mif1", "avif", ""))), "no metadata box"));
  // A meta box made of thousands of empty boxes: refused without walking them all.
  std::string many = BoxHeader(12 + 5000 * 8, "meta").append(4, '\0');  // FullBox
  for (int i = 0; i < 5000; ++i) many += BoxHeader(8, "free");
  EXPECT_TRUE(Contains(Rejection(ProbeCopy(IsoFile("avif", "", many))), "too many boxes"));
  // A 64-bit box size that points far beyond the bytes.
  const std::string huge = BoxHeader(1, "free") + std::string(8, '\xFF');
  EXPECT_TRUE(Contains(Rejection(ProbeCopy(IsoFile("avif", "", huge))), "is truncated"));
}

// Mutates real images (bytes flipped, fields overwritten, cut, bytes inserted) and probes the
// results under ASan/UBSan: the probe must not crash, and whatever it accepts must make sense.
TEST(ImageProbeTest, SurvivesMutatedImages) {
  ASSERT_FALSE(Samples().empty());
  std::mt19937 random(20240611);
  const auto below = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(random() % n); };
  int accepted = 0, rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    const Sample& sample = Samples()[below(Samples().size())];
    std::string bytes = sample.bytes;
    // Most damage goes into the headers, where the probe looks.
    const size_t zone = std::min(bytes.size(), sample.header_end + 16);
    const int mutations = 1 + static_cast<int>(below(4));
    for (int m = 0; m < mutations && !bytes.empty(); ++m) {
      const size_t at = below(std::min(bytes.size(), zone));
      switch (below(5)) {
        case 0:
          bytes[at] = static_cast<char>(bytes[at] ^ (1 << below(8)));
          break;
        case 1:
          bytes[at] = static_cast<char>(random());
          break;
        case 2:  // a length or offset field becomes anything
          for (size_t k = at; k < at + 4 && k < bytes.size(); ++k) {
            bytes[k] = static_cast<char>(below(3) == 0 ? 0xFF : random());
          }
          break;
        case 3:
          bytes.resize(below(bytes.size() + 1));
          break;
        default:
          bytes.insert(at, below(9), static_cast<char>(random()));
          break;
      }
    }
    Result<ImageHeader> header = ProbeCopy(bytes);
    if (header.ok()) {
      ++accepted;
      EXPECT_NE(header->format, OutputFormat::kUnknown);
      ASSERT_TRUE(header->width > 0 && header->height > 0);
    } else {
      ++rejected;
      ASSERT_EQ(header.status().code(), Code::kNotImage);
      ASSERT_FALSE(header.status().message().empty());
    }
  }
  // Both outcomes occur, so the loop did reach the parsers' deeper paths.
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace pixelmill
