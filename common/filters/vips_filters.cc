#include "common/filters/vips_filters.h"

#include <glib.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <vips/vips8>

#include "common/filters/fast_jpeg.h"
#include "common/filters/vips_log.h"
#include "common/image/image_probe.h"

namespace pixelmill {
namespace {

using vips::VImage;
using vips::VOption;

// Runs `colour` on the colour bands only, keeping an alpha band as it is.
template <typename Fn>
VImage OnColour(const VImage& in, Fn colour) {
  if (!in.has_alpha()) return colour(in).cast(VIPS_FORMAT_UCHAR);
  const int bands = in.bands();
  VImage rgb = in.extract_band(0, VImage::option()->set("n", bands - 1));
  VImage alpha = in.extract_band(bands - 1).cast(VIPS_FORMAT_UCHAR);
  return colour(rgb).cast(VIPS_FORMAT_UCHAR).bandjoin(alpha);
}

VImage ToSrgb(const VImage& in) {
  return in.interpretation() == VIPS_INTERPRETATION_sRGB ? in
                                                         : in.colourspace(VIPS_INTERPRETATION_sRGB);
}

// One grey band: Rec. 601 luma of the sRGB values, rounded (what JPEG's Y, Pillow's "L" and
// OpenCV's grey compute); a grey image stays as it is.
VImage Luma(const VImage& in) {
  if (in.bands() == 1) return in.colourspace(VIPS_INTERPRETATION_B_W);
  double weights[3] = {0.299, 0.587, 0.114};
  return ToSrgb(in)
      .recomb(VImage::new_matrix(3, 1, weights, 3))
      .linear(1.0, 0.5)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W));
}

VImage Pixelate(const VImage& in, int block) {
  const int w = in.width(), h = in.height();
  // Pad to whole blocks (copying edge pixels) so every block averages real pixels only.
  const int padded_w = (w + block - 1) / block * block, padded_h = (h + block - 1) / block * block;
  VImage padded =
      in.embed(0, 0, padded_w, padded_h, VImage::option()->set("extend", VIPS_EXTEND_COPY));
  return padded.shrink(block, block)
      .cast(VIPS_FORMAT_UCHAR)
      .zoom(block, block)
      .extract_area(0, 0, w, h);
}

VImage Sepia(const VImage& in, double s) {
  // Blend of identity and the classic sepia matrix, by strength s.
  const double sepia[9] = {0.393, 0.769, 0.189, 0.349, 0.686, 0.168, 0.272, 0.534, 0.131};
  std::vector<double> m(9);
  for (int i = 0; i < 9; ++i) m[i] = (1 - s) * (i % 4 == 0 ? 1.0 : 0.0) + s * sepia[i];
  return ToSrgb(in).recomb(VImage::new_matrix(3, 3, m.data(), 9));
}

VImage Apply(const FilterStep& step, const VImage& in) {
  const double a = step.argument.value_or(0);
  const std::string& n = step.name;
  if (n == "blur") return OnColour(in, [&](const VImage& c) { return c.gaussblur(a); });
  if (n == "sharpen") {
    return OnColour(ToSrgb(in), [&](const VImage& c) {
      return c.sharpen(VImage::option()->set("sigma", a)).colourspace(VIPS_INTERPRETATION_sRGB);
    });
  }
  if (n == "grayscale") {
    return OnColour(in, [](const VImage& c) { return Luma(c); });
  }
  if (n == "sepia") return OnColour(in, [&](const VImage& c) { return Sepia(c, a); });
  if (n == "edge") {
    return OnColour(in, [](const VImage& c) { return Luma(c).sobel(); });
  }
  if (n == "invert") return OnColour(in, [](const VImage& c) { return c.invert(); });
  if (n == "brightness") {
    return OnColour(in, [&](const VImage& c) { return c.linear(a, 0.0); });
  }
  if (n == "contrast") {
    return OnColour(in, [&](const VImage& c) { return c.linear(a, 128.0 * (1 - a)); });
  }
  if (n == "pixelate") return Pixelate(in, static_cast<int>(a));
  if (n == "thumbnail") {
    // Down only: a 1x1 pixel must not become SIZE x SIZE.
    return in.thumbnail_image(
        static_cast<int>(a),
        VImage::option()->set("height", static_cast<int>(a))->set("size", VIPS_SIZE_DOWN));
  }
  throw vips::VError("no such filter step: " + n);
}

// Progressive JPEG (several scans) and interlaced PNG decode to memory in full.
bool IsProgressive(const VImage& image) {
  for (const char* field : {"jpeg-multiscan", "interlaced"}) {
    if (image.get_typeof(field) != 0 && image.get_int(field) != 0) return true;
  }
  return false;
}

OutputFormat OutputFor(const FilterContext& context, OutputFormat input) {
  if (context.format != OutputFormat::kUnknown) return context.format;
  return input == OutputFormat::kGif ? OutputFormat::kPng : input;  // first frame, as PNG
}

// Loads the image, autorotated. A chain that starts with a thumbnail has a JPEG or WebP decoded
// at 1/2, 1/4 or 1/8 scale already (shrink-on-load: libjpeg's scaled DCT, libwebp's scaler) when
// that still leaves at least the target size. PNG has no such thing: libpng decodes every pixel.
VImage Load(const FilterSpec& spec, const ImageHeader& header, std::string_view input) {
  VOption* options = VImage::option()->set("fail_on", VIPS_FAIL_ON_ERROR);
  const bool scalable =
      header.format == OutputFormat::kJpeg || header.format == OutputFormat::kWebp;
  if (spec.steps[0].name == "thumbnail" && scalable) {
    const uint32_t longest = std::max(header.width, header.height);
    const auto target = static_cast<uint32_t>(*spec.steps[0].argument);
    int shrink = 1;
    while (shrink < 8 && longest / static_cast<uint32_t>(shrink * 2) >= target) shrink *= 2;
    if (shrink > 1 && header.format == OutputFormat::kJpeg) options->set("shrink", shrink);
    if (shrink > 1 && header.format == OutputFormat::kWebp) options->set("scale", 1.0 / shrink);
  }
  return VImage::new_from_buffer(input.data(), input.size(), "", options).autorot();
}

}  // namespace

Status InitVips() {
  static std::once_flag once;
  static Status result;
  std::call_once(once, [] {
    if (VIPS_INIT("pixelmill") != 0) {
      result = Status::Error(Code::kInternal,
                             std::string("libvips did not start: ") + vips_error_buffer());
      return;
    }
    // Leak checks: libvips reads VIPS_LEAK=1 from the environment in VIPS_INIT (any build).
    CaptureVipsWarnings();    // kept per job, not printed on stderr
    vips_concurrency_set(1);  // one pixel thread: a worker process is the unit of parallelism
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_block_untrusted_set(TRUE);
    // An explicit loader allow-list: every loader blocked, then the four we accept.
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const char* allowed :
         {"VipsForeignLoadJpegBuffer", "VipsForeignLoadPngBuffer", "VipsForeignLoadWebpBuffer",
          "VipsForeignLoadNsgifBuffer", "VipsForeignLoadGifBuffer"}) {
      vips_operation_block_set(allowed, FALSE);
    }
  });
  return result;
}

namespace {

// RunVipsChain without the job's log.
Result<FilterOutput> FilterImage(const FilterSpec& spec, const FilterContext& context,
                                 std::string_view input) {
  Result<ImageHeader> header = ProbeImage(input);
  if (!header.ok()) {
    // Bytes of no known format (SVG, HEIC, HTML) are unsupported; a known one that does not
    // parse is broken.
    const bool known = !input.empty() && SniffImageFormat(input) != OutputFormat::kUnknown;
    return Status::Error(known || input.empty() ? Code::kDecodeError : Code::kUnsupportedFormat,
                         header.status().message());
  }
  const OutputFormat in_format = header->format;
  if (in_format != OutputFormat::kJpeg && in_format != OutputFormat::kPng &&
      in_format != OutputFormat::kWebp && in_format != OutputFormat::kGif) {
    return Status::Error(Code::kUnsupportedFormat,
                         std::string(ExtensionFor(in_format)) +
                             " images are not filtered (jpeg, png, webp, gif only)");
  }
  const uint64_t pixels = uint64_t{header->width} * header->height;
  if (pixels > context.max_pixels) {
    return Status::Error(Code::kTooManyPixels,
                         std::to_string(header->width) + "x" + std::to_string(header->height) +
                             " is over --max-pixels " + std::to_string(context.max_pixels));
  }
  if (!context.exact) {
    std::optional<Result<FilterOutput>> fast = TryFastJpeg(spec, context, header.value(), input);
    if (fast.has_value()) return std::move(*fast);
  }
  try {
    // libvips reads the header only here; pixels are decoded lazily by the write below.
    VImage probe = VImage::new_from_buffer(input.data(), input.size(), "",
                                           VImage::option()->set("fail_on", VIPS_FAIL_ON_ERROR));
    // libvips' own idea of the size counts too: a GIF frame may be larger than its screen.
    const uint64_t vips_pixels = static_cast<uint64_t>(probe.width()) * probe.height();
    if (vips_pixels > context.max_pixels) {
      return Status::Error(Code::kTooManyPixels, std::to_string(probe.width()) + "x" +
                                                     std::to_string(probe.height()) +
                                                     " (as decoded) is over --max-pixels " +
                                                     std::to_string(context.max_pixels));
    }
    const int frames =
        probe.get_typeof(VIPS_META_N_PAGES) != 0 ? probe.get_int(VIPS_META_N_PAGES) : 1;
    if (pixels * static_cast<uint64_t>(std::max(frames, 1)) > context.max_pixels) {
      return Status::Error(Code::kTooManyPixels, std::to_string(frames) + " frames of " +
                                                     std::to_string(pixels) +
                                                     " pixels are over --max-pixels " +
                                                     std::to_string(context.max_pixels));
    }
    if (frames > kMaxFrames) {
      return Status::Error(Code::kTooManyFrames, "animation of " + std::to_string(frames) +
                                                     " frames (at most " +
                                                     std::to_string(kMaxFrames) + ")");
    }
    if (in_format != OutputFormat::kGif && IsProgressive(probe) &&
        std::max(pixels, vips_pixels) > kMaxInterlacedPixels) {
      return Status::Error(Code::kTooManyPixels, "interlaced (progressive) image of " +
                                                     std::to_string(pixels) + " pixels (at most " +
                                                     std::to_string(kMaxInterlacedPixels) +
                                                     ": it decodes to memory in full)");
    }
    VImage image = Load(spec, header.value(), input);
    if (image.get_typeof("icc-profile-data") != 0) {
      try {
        image = image.icc_transform("srgb", VImage::option()->set("embedded", true));
      } catch (const vips::VError&) {
        // An unusable embedded profile: convert without it. Its error stays in the buffer,
        // where EndVipsJob() counts it as a warning.
      }
    }
    if (image.interpretation() != VIPS_INTERPRETATION_B_W &&
        image.interpretation() != VIPS_INTERPRETATION_sRGB) {
      image = image.colourspace(VIPS_INTERPRETATION_sRGB);
    }
    if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
    for (const FilterStep& step : spec.steps) image = Apply(step, image);
    const OutputFormat out = OutputFor(context, in_format);
    if (out == OutputFormat::kJpeg && image.has_alpha()) {
      image = image.flatten(VImage::option()->set("background", 255.0));
    }
    VOption* save = VImage::option()->set("strip", !context.keep_metadata);
    if (out != OutputFormat::kPng) save->set("Q", context.quality);
    void* bytes = nullptr;
    size_t size = 0;
    image.write_to_buffer(("." + std::string(ExtensionFor(out))).c_str(), &bytes, &size, save);
    FilterOutput output;
    output.bytes = ImageBuffer::Adopt(bytes, size, &g_free);
    output.bytes->set_format(out);
    output.format = out;
    output.width = static_cast<uint32_t>(image.width());
    output.height = static_cast<uint32_t>(image.height());
    return output;
  } catch (const vips::VError& e) {
    return Status::Error(Code::kDecodeError, EndFailedVipsJob(e.what()));
  }
}

}  // namespace

Result<FilterOutput> RunVipsChain(const FilterSpec& spec, const FilterContext& context,
                                  std::string_view input) {
  BeginVipsJob();
  Result<FilterOutput> output = FilterImage(spec, context, input);
  if (output.ok()) {
    VipsWarnings warnings = EndVipsJob();
    output->warnings = warnings.count;
    output->warning_text = std::move(warnings.text);
  }
  return output;
}

}  // namespace pixelmill
