#include "common/filters/colour_profile.h"

#include <lcms2.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/filters/jpeg_markers.h"

namespace pixelmill {
namespace {

struct TransformDeleter {
  void operator()(void* t) const { cmsDeleteTransform(t); }
};
using Transform = std::unique_ptr<void, TransformDeleter>;

// A matrix-shaper profile to sRGB in integers: each band through its tone curve to linear light,
// the 3x3 matrix from the profile's primaries to sRGB's (both in the D50 connection space, so
// relative colorimetric needs no adaptation), clipped, then sRGB's curve by table. What Little
// CMS computes for such a pair, at a fifth of its cost per pixel.
constexpr int kLinearBits = 14;  // linear light 0..1 is 0..1 << 14
constexpr int32_t kLinearMax = (1 << kLinearBits) - 1;

struct MatrixShaper {
  std::array<std::array<int32_t, 256>, 3> linear{};  // by band and 8-bit value
  std::array<int32_t, 9> matrix{};                   // rows: sRGB red, green, blue
};

const std::array<uint8_t, kLinearMax + 1>& ToSrgbTable() {
  static const auto table = [] {
    std::array<uint8_t, kLinearMax + 1> t{};
    for (size_t i = 0; i < t.size(); ++i) {
      const double y = static_cast<double>(i) / kLinearMax;
      const double c = y <= 0.0031308 ? 12.92 * y : 1.055 * std::pow(y, 1 / 2.4) - 0.055;
      t[i] = static_cast<uint8_t>(std::lround(std::clamp(c, 0.0, 1.0) * 255));
    }
    return t;
  }();
  return table;
}

// The 3x3 matrix whose columns are the profile's red, green and blue colorants (XYZ, D50).
std::optional<std::array<double, 9>> Colorants(cmsHPROFILE profile) {
  const cmsTagSignature tags[3] = {cmsSigRedColorantTag, cmsSigGreenColorantTag,
                                   cmsSigBlueColorantTag};
  std::array<double, 9> m{};
  for (size_t c = 0; c < 3; ++c) {
    const auto* xyz = static_cast<const cmsCIEXYZ*>(cmsReadTag(profile, tags[c]));
    if (xyz == nullptr) return std::nullopt;
    m[c] = xyz->X;
    m[3 + c] = xyz->Y;
    m[6 + c] = xyz->Z;
  }
  return m;
}

std::optional<std::array<double, 9>> Inverse(const std::array<double, 9>& m) {
  const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                     m[2] * (m[3] * m[7] - m[4] * m[6]);
  if (std::abs(det) < 1e-9) return std::nullopt;
  return std::array<double, 9>{(m[4] * m[8] - m[5] * m[7]) / det, (m[2] * m[7] - m[1] * m[8]) / det,
                               (m[1] * m[5] - m[2] * m[4]) / det, (m[5] * m[6] - m[3] * m[8]) / det,
                               (m[0] * m[8] - m[2] * m[6]) / det, (m[2] * m[3] - m[0] * m[5]) / det,
                               (m[3] * m[7] - m[4] * m[6]) / det, (m[1] * m[6] - m[0] * m[7]) / det,
                               (m[0] * m[4] - m[1] * m[3]) / det};
}

// Only a profile Little CMS would itself run as a matrix-shaper: RGB, no lookup tables.
std::optional<MatrixShaper> MatrixShaperFor(cmsHPROFILE in, cmsHPROFILE srgb) {
  if (!cmsIsMatrixShaper(in) || cmsIsTag(in, cmsSigAToB0Tag) || cmsIsTag(in, cmsSigAToB1Tag) ||
      cmsIsTag(in, cmsSigAToB2Tag)) {
    return std::nullopt;
  }
  const std::optional<std::array<double, 9>> from = Colorants(in), to = Colorants(srgb);
  if (!from || !to) return std::nullopt;
  const std::optional<std::array<double, 9>> back = Inverse(*to);
  if (!back) return std::nullopt;
  MatrixShaper shaper;
  const cmsTagSignature curves[3] = {cmsSigRedTRCTag, cmsSigGreenTRCTag, cmsSigBlueTRCTag};
  for (size_t c = 0; c < 3; ++c) {
    const auto* curve = static_cast<const cmsToneCurve*>(cmsReadTag(in, curves[c]));
    if (curve == nullptr) return std::nullopt;
    for (size_t v = 0; v < 256; ++v) {
      const double y = cmsEvalToneCurveFloat(curve, static_cast<cmsFloat32Number>(v / 255.0));
      shaper.linear[c][v] = static_cast<int32_t>(std::lround(std::clamp(y, 0.0, 1.0) * kLinearMax));
    }
  }
  for (size_t r = 0; r < 3; ++r) {
    for (size_t c = 0; c < 3; ++c) {
      double v = 0;
      for (size_t k = 0; k < 3; ++k) v += (*back)[3 * r + k] * (*from)[3 * k + c];
      if (std::abs(v) > 4) return std::nullopt;  // not a display profile; keep the sums in range
      shaper.matrix[3 * r + c] = static_cast<int32_t>(std::lround(v * (1 << kLinearBits)));
    }
  }
  return shaper;
}

void Apply(const MatrixShaper& shaper, Pixels& image) {
  const auto& to_srgb = ToSrgbTable();
  const int32_t* m = shaper.matrix.data();
  uint8_t* p = image.data.data();
  const size_t pixels = size_t{image.width} * image.height;
  for (size_t i = 0; i < pixels; ++i, p += 3) {
    const int32_t r = shaper.linear[0][p[0]], g = shaper.linear[1][p[1]],
                  b = shaper.linear[2][p[2]];
    for (size_t c = 0; c < 3; ++c) {
      const int32_t v =
          (m[3 * c] * r + m[3 * c + 1] * g + m[3 * c + 2] * b + (1 << (kLinearBits - 1))) >>
          kLinearBits;
      p[c] = to_srgb[static_cast<size_t>(std::clamp(v, 0, kLinearMax))];
    }
  }
}

struct Cached {
  std::string profile;
  std::optional<MatrixShaper> shaper;  // else `transform`
  Transform transform;
};

// Most recently used last; at most kKept.
constexpr size_t kKept = 8;

void Silent(cmsContext, cmsUInt32Number, const char*) {}

// A Little CMS context of our own whose errors go nowhere: a profile it refuses goes to libvips,
// which reports it once, as a warning of that image.
cmsContext QuietContext() {
  thread_local struct Owned {
    cmsContext context = cmsCreateContext(nullptr, nullptr);
    Owned() {
      if (context != nullptr) cmsSetLogErrorHandlerTHR(context, &Silent);
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    ~Owned() {
      if (context != nullptr) cmsDeleteContext(context);
    }
  } owned;
  return owned.context;
}

// The conversion of `icc` to sRGB, or nothing (no `transform`) when Little CMS refuses it.
Cached Build(std::string_view icc) {
  Cached built;
  cmsContext context = QuietContext();
  if (context == nullptr) return built;
  cmsHPROFILE in =
      cmsOpenProfileFromMemTHR(context, icc.data(), static_cast<cmsUInt32Number>(icc.size()));
  if (in == nullptr) return built;
  cmsHPROFILE srgb = cmsCreate_sRGBProfileTHR(context);
  if (srgb != nullptr && cmsGetColorSpace(in) == cmsSigRgbData) {
    built.transform.reset(cmsCreateTransformTHR(context, in, TYPE_RGB_8, srgb, TYPE_RGB_8,
                                                INTENT_RELATIVE_COLORIMETRIC, 0));
    if (built.transform != nullptr) built.shaper = MatrixShaperFor(in, srgb);
  }
  if (srgb != nullptr) cmsCloseProfile(srgb);
  cmsCloseProfile(in);
  built.profile = std::string(icc);
  return built;
}

}  // namespace

bool ConvertToSrgb(std::string_view icc, Pixels& image) {
  if (image.bands != 3) return false;
  if (IsSrgbProfile(icc)) return true;
  thread_local std::vector<Cached> cache;
  size_t at = 0;
  while (at < cache.size() && cache[at].profile != icc) ++at;
  if (at == cache.size()) {
    Cached built = Build(icc);
    if (built.transform == nullptr) return false;
    if (cache.size() == kKept) cache.erase(cache.begin());
    cache.push_back(std::move(built));
    at = cache.size() - 1;
  } else if (at + 1 != cache.size()) {
    Cached used = std::move(cache[at]);
    cache.erase(cache.begin() + static_cast<std::ptrdiff_t>(at));
    cache.push_back(std::move(used));
    at = cache.size() - 1;
  }
  if (cache[at].shaper) {
    Apply(*cache[at].shaper, image);
    return true;
  }
  const size_t pixels = size_t{image.width} * image.height;
  cmsDoTransform(cache[at].transform.get(), image.data.data(), image.data.data(),
                 static_cast<cmsUInt32Number>(pixels));
  return true;
}

}  // namespace pixelmill
