#include "common/filters/fast_jpeg.h"

#include <time.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/filters/colour_profile.h"
#include "common/filters/jpeg_markers.h"
#include "common/filters/pixels.h"

namespace pixelmill {
namespace {

constexpr const char* kFastSteps[] = {"blur",       "sharpen",  "grayscale", "sepia", "invert",
                                      "brightness", "contrast", "thumbnail", "edge",  "pixelate"};

bool FastSteps(const FilterSpec& spec) {
  return std::all_of(spec.steps.begin(), spec.steps.end(), [](const FilterStep& step) {
    return std::any_of(std::begin(kFastSteps), std::end(kFastSteps),
                       [&](const char* name) { return step.name == name; });
  });
}

// A JPEG in, a JPEG out, metadata stripped, every step a fast one.
bool Eligible(const FilterSpec& spec, const FilterContext& context, const ImageHeader& header) {
  if (header.format != OutputFormat::kJpeg || context.keep_metadata) return false;
  if (context.format != OutputFormat::kUnknown && context.format != OutputFormat::kJpeg) {
    return false;
  }
  return FastSteps(spec);
}

// The markers of a JPEG the fast path can decode as it is (a profile is converted after).
bool Decodable(const JpegMarkers& m) {
  return m.clean && m.baseline && (m.components == 1 || (m.components == 3 && !m.adobe)) &&
         m.orientation == 1 && (m.icc.empty() || m.components == 3);
}

uint32_t ThreadMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint32_t>(ts.tv_sec * 1'000'000 + ts.tv_nsec / 1000);
}

// One per thread: TurboJPEG handles and pixel buffers, reused by every job on the thread.
struct Codec {
  tjhandle decoder = tjInitDecompress();
  tjhandle encoder = tjInitCompress();
  Pixels image, scratch;
  unsigned char* out = nullptr;  // the encoder's output, grown to the largest image seen
  unsigned long out_capacity = 0;
  Codec() = default;
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;
  ~Codec() {
    if (decoder != nullptr) tjDestroy(decoder);
    if (encoder != nullptr) tjDestroy(encoder);
    tjFree(out);
  }
};

// 1/2, 1/4 or 1/8 scale when a leading thumbnail step still gets at least its size (as libvips'
// shrink-on-load does).
int LoadShrink(const FilterSpec& spec, int width, int height) {
  if (spec.steps[0].name != "thumbnail") return 1;
  const auto target = static_cast<int>(*spec.steps[0].argument);
  const int longest = std::max(width, height);
  int shrink = 1;
  while (shrink < 8 && longest / (shrink * 2) >= target) shrink *= 2;
  return shrink;
}

// Whether the chain reduces the picture to grey (grayscale, edge) before any step that needs
// colour: luma is linear in R, G and B, so it commutes with the resampling steps before it, and
// such a chain can decode the JPEG's luma alone (libjpeg then skips the chroma's inverse DCT,
// upsampling and colour conversion).
bool GreyFromTheStart(const FilterSpec& spec) {
  for (const FilterStep& step : spec.steps) {
    if (step.name == "grayscale" || step.name == "edge") return true;
    if (step.name != "thumbnail" && step.name != "blur" && step.name != "pixelate") return false;
  }
  return false;
}

// Keeps the top-left `width` x `height` of `image`.
void Crop(Pixels& image, uint32_t width, uint32_t height) {
  if (width == image.width && height == image.height) return;
  const size_t from = image.row_bytes(), to = size_t{width} * static_cast<size_t>(image.bands);
  for (uint32_t y = 1; y < height; ++y) {
    std::copy_n(image.data.begin() + static_cast<std::ptrdiff_t>(from * y), to,
                image.data.begin() + static_cast<std::ptrdiff_t>(to * y));
  }
  image.Resize(width, height, image.bands);
}

bool Decode(Codec& codec, const FilterSpec& spec, std::string_view input, bool has_profile) {
  auto* bytes = reinterpret_cast<const unsigned char*>(input.data());
  int width = 0, height = 0, subsampling = 0, colourspace = 0;
  if (tjDecompressHeader3(codec.decoder, bytes, input.size(), &width, &height, &subsampling,
                          &colourspace) != 0) {
    return false;
  }
  if (colourspace != TJCS_GRAY && colourspace != TJCS_YCbCr && colourspace != TJCS_RGB)
    return false;
  // A profile is applied to RGB, so a JPEG with one decodes to RGB.
  const int bands = colourspace == TJCS_GRAY || (!has_profile && GreyFromTheStart(spec)) ? 1 : 3;
  const int shrink = LoadShrink(spec, width, height);
  const tjscalingfactor factor{1, shrink};
  const int w = TJSCALED(width, factor), h = TJSCALED(height, factor);
  codec.image.Resize(static_cast<uint32_t>(w), static_cast<uint32_t>(h), bands);
  if (tjDecompress2(codec.decoder, bytes, input.size(), codec.image.data.data(), w, 0, h,
                    bands == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
    return false;
  }
  // libjpeg rounds a shrunk size up, libvips down: keep libvips' size.
  Crop(codec.image, static_cast<uint32_t>(width / shrink), static_cast<uint32_t>(height / shrink));
  return true;
}

void Apply(const FilterStep& step, Codec& codec) {
  const double a = step.argument.value_or(0);
  Pixels& image = codec.image;
  const std::string& n = step.name;
  if (n == "blur") GaussianBlur(image, a, codec.scratch);
  if (n == "sharpen") Sharpen(image, a, codec.scratch);
  if (n == "grayscale") ToGrey(image, codec.scratch);
  if (n == "sepia") Sepia(image, a, codec.scratch);
  if (n == "invert") Linear(image, -1, 255);
  if (n == "brightness") Linear(image, a, 0);
  if (n == "contrast") Linear(image, a, 128 * (1 - a));
  if (n == "thumbnail") Thumbnail(image, static_cast<int>(a), codec.scratch);
  if (n == "edge") SobelEdges(image, codec.scratch);
  if (n == "pixelate") Pixelate(image, static_cast<int>(a));
}

// Encodes into the codec's own buffer (no allocation, no page faults once it is big enough),
// then copies the few kilobytes out. Chroma is subsampled 4:2:0 below quality 90, as libvips does.
std::optional<std::string> Encode(Codec& codec, int quality) {
  const Pixels& image = codec.image;
  const int w = static_cast<int>(image.width), h = static_cast<int>(image.height);
  const int subsampling = image.bands == 1 ? TJSAMP_GRAY : quality >= 90 ? TJSAMP_444 : TJSAMP_420;
  const unsigned long needed = tjBufSize(w, h, subsampling);
  if (needed > codec.out_capacity) {
    tjFree(codec.out);
    codec.out = tjAlloc(static_cast<int>(needed));
    codec.out_capacity = codec.out != nullptr ? needed : 0;
    if (codec.out == nullptr) return std::nullopt;
  }
  unsigned long size = codec.out_capacity;
  if (tjCompress2(codec.encoder, image.data.data(), w, 0, h,
                  image.bands == 1 ? TJPF_GRAY : TJPF_RGB, &codec.out, &size, subsampling, quality,
                  TJFLAG_NOREALLOC | TJFLAG_FASTDCT) != 0) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(codec.out), size);
}

}  // namespace

std::optional<Result<FilterOutput>> TryFastJpeg(const FilterSpec& spec,
                                                const FilterContext& context,
                                                const ImageHeader& header, std::string_view input) {
  if (!Eligible(spec, context, header)) return std::nullopt;
  const JpegMarkers markers = ReadJpegMarkers(input);
  if (!Decodable(markers)) return std::nullopt;
  thread_local Codec codec;
  if (codec.decoder == nullptr || codec.encoder == nullptr) return std::nullopt;
  FilterOutput output;
  uint32_t t0 = ThreadMicros();
  if (!Decode(codec, spec, input, !markers.icc.empty())) return std::nullopt;
  if (!markers.icc.empty() && !ConvertToSrgb(markers.icc, codec.image)) return std::nullopt;
  uint32_t t1 = ThreadMicros();
  for (const FilterStep& step : spec.steps) Apply(step, codec);
  const uint32_t t2 = ThreadMicros();
  std::optional<std::string> jpeg = Encode(codec, context.quality);
  if (!jpeg.has_value()) return std::nullopt;
  output.stages = {t1 - t0, t2 - t1, ThreadMicros() - t2};
  const Pixels& image = codec.image;
  output.bytes = ImageBuffer::FromString(std::move(*jpeg));
  output.bytes->set_format(OutputFormat::kJpeg);
  output.format = OutputFormat::kJpeg;
  output.width = image.width;
  output.height = image.height;
  output.fast_path = true;
  return Result<FilterOutput>(std::move(output));
}

}  // namespace pixelmill
