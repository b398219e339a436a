#include "common/filters/pixels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

// The loops below are written for the compiler's vectoriser; each hot one is also built for AVX2
// and chosen at run time (no -march: the binary runs on any x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define PIXELMILL_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PIXELMILL_VECTOR_CLONES
#endif

namespace pixelmill {
namespace {

constexpr int kShift = 16;  // fixed-point weights: 1.0 is 1 << kShift
constexpr uint32_t kHalf = 1u << (kShift - 1);

// One extended box: weight 1 on 2l+1 samples and `edge` on the two beyond, normalised.
struct Box {
  int l = 0;
  uint32_t inner = 0, edge = 0;  // fixed-point weights
};

Box BoxFor(double sigma, int passes) {
  const double variance = sigma * sigma / passes;
  const int l = static_cast<int>(std::floor((std::sqrt(12 * variance + 1) - 1) / 2));
  const double alpha =
      (2 * l + 1) * (l * (l + 1) - 3 * variance) / (6 * (variance - (l + 1) * (l + 1)));
  const double norm = 2 * l + 1 + 2 * alpha;
  Box box;
  box.l = l;
  box.inner = static_cast<uint32_t>(std::lround((1 << kShift) / norm));
  box.edge = static_cast<uint32_t>(std::lround((1 << kShift) * alpha / norm));
  return box;
}

uint8_t Clamp8(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

PIXELMILL_VECTOR_CLONES
void AddShifted(uint32_t* acc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += p[i];
}

PIXELMILL_VECTOR_CLONES
void WeighRow(const uint32_t* sums, const uint8_t* before, const uint8_t* after, uint8_t* out,
              size_t n, uint32_t inner, uint32_t edge) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t ends = uint32_t{before[i]} + after[i];
    out[i] = static_cast<uint8_t>((sums[i] * inner + ends * edge + kHalf) >> kShift);
  }
}

// One pass over a padded row: `p` holds (l + 1) pixels of edge on each side of `n` samples.
// Narrow boxes add the 2l+1 shifted rows (vectorised); wide ones keep a running sum per band.
void BoxRow(const uint8_t* p, uint8_t* out, size_t n, int bands, const Box& box,
            std::vector<uint32_t>& sums) {
  const ptrdiff_t step = bands, reach = static_cast<ptrdiff_t>(box.l + 1) * bands;
  sums.assign(n, 0);
  if (box.l <= 16) {
    for (ptrdiff_t k = -box.l * step; k <= box.l * step; k += step)
      AddShifted(sums.data(), p + k, n);
  } else {
    for (size_t b = 0; b < static_cast<size_t>(bands); ++b) {
      uint32_t sum = 0;
      for (ptrdiff_t k = -box.l * step; k <= box.l * step; k += step)
        sum += p[static_cast<ptrdiff_t>(b) + k];
      for (size_t i = b; i < n; i += static_cast<size_t>(bands)) {
        sums[i] = sum;
        sum += p[static_cast<ptrdiff_t>(i) + (box.l + 1) * step] -
               uint32_t{p[static_cast<ptrdiff_t>(i) - box.l * step]};
      }
    }
  }
  WeighRow(sums.data(), p - reach, p + reach, out, n, box.inner, box.edge);
}

// Copies `row` into the middle of `padded`, extending its first and last pixel `pad` times.
void PadRow(const uint8_t* row, size_t n, int bands, size_t pad, std::vector<uint8_t>& padded) {
  const size_t edge = pad * static_cast<size_t>(bands);
  padded.resize(n + 2 * edge);
  for (size_t i = 0; i < edge; ++i) {
    padded[i] = row[i % static_cast<size_t>(bands)];
    padded[edge + n + i] = row[n - static_cast<size_t>(bands) + i % static_cast<size_t>(bands)];
  }
  std::copy(row, row + n, padded.begin() + static_cast<ptrdiff_t>(edge));
}

void BlurRows(Pixels& image, const Box& box, int passes) {
  std::vector<uint8_t> padded;
  std::vector<uint32_t> sums;
  const size_t n = image.row_bytes(), pad = static_cast<size_t>(box.l) + 1;
  const size_t middle = pad * static_cast<size_t>(image.bands);
  for (uint32_t y = 0; y < image.height; ++y) {
    uint8_t* row = image.data.data() + n * y;
    for (int pass = 0; pass < passes; ++pass) {
      PadRow(row, n, image.bands, pad, padded);
      BoxRow(padded.data() + middle, row, n, image.bands, box, sums);
    }
  }
}

PIXELMILL_VECTOR_CLONES
void SlideSums(uint32_t* sums, const uint8_t* entering, const uint8_t* leaving, size_t n) {
  for (size_t i = 0; i < n; ++i) sums[i] += uint32_t{entering[i]} - leaving[i];
}

// One vertical pass from `in` to `out` (same size), rows beyond the edges extended.
void BoxColumns(const Pixels& in, Pixels& out, const Box& box) {
  const size_t n = in.row_bytes();
  const int h = static_cast<int>(in.height);
  auto row = [&](int y) {
    return in.data.data() + n * static_cast<size_t>(std::clamp(y, 0, h - 1));
  };
  std::vector<uint32_t> sums(n, 0);
  for (int k = -box.l; k <= box.l; ++k) {
    AddShifted(sums.data(), row(k), n);
  }
  for (int y = 0; y < h; ++y) {
    WeighRow(sums.data(), row(y - box.l - 1), row(y + box.l + 1),
             out.data.data() + n * static_cast<size_t>(y), n, box.inner, box.edge);
    SlideSums(sums.data(), row(y + box.l + 1), row(y - box.l), n);
  }
}

// sRGB to linear light and back, as 8-bit tables.
// Luminance is summed in 16ths of a to_srgb step: Rec. 709 weight x linear value x 4095 x 16.
// Rec. 601 luma in 16.16, the weights and rounding of libjpeg's RGB to Y conversion.
constexpr uint32_t kLumaR = 19595, kLumaG = 38470, kLumaB = 7471;

PIXELMILL_VECTOR_CLONES
void GreyRows(const uint8_t* rgb, uint8_t* grey, size_t pixels) {
  for (size_t i = 0; i < pixels; ++i, rgb += 3) {
    grey[i] =
        static_cast<uint8_t>((kLumaR * rgb[0] + kLumaG * rgb[1] + kLumaB * rgb[2] + 32768) >> 16);
  }
}

void SpreadGrey(Pixels& image, Pixels& scratch) {
  scratch.Resize(image.width, image.height, 3);
  const size_t pixels = size_t{image.width} * image.height;
  for (size_t i = 0; i < pixels; ++i) {
    scratch.data[3 * i] = scratch.data[3 * i + 1] = scratch.data[3 * i + 2] = image.data[i];
  }
  std::swap(image, scratch);
}

// Lanczos-3 weights, widened by the shrink (antialiased), for resampling `in` samples to `out`:
// for each output sample, the first input index and fixed-point weights (summing to 1 << 14).
struct Taps {
  std::vector<uint32_t> first, count;
  std::vector<int32_t> weights;  // `span` per output sample
  uint32_t span = 0;
};

constexpr int kTapShift = 14;

double Lanczos3(double x) {
  constexpr double kPi = 3.14159265358979323846;
  if (x == 0) return 1;
  if (std::abs(x) >= 3) return 0;
  const double px = kPi * x;
  return 3 * std::sin(px) * std::sin(px / 3) / (px * px);
}

Taps ComputeTaps(uint32_t in, uint32_t out) {
  const double scale = static_cast<double>(in) / out, stretch = std::max(1.0, scale);
  const double support = 3 * stretch;
  Taps taps;
  taps.span = static_cast<uint32_t>(std::ceil(support)) * 2 + 2;
  taps.first.resize(out);
  taps.count.resize(out);
  taps.weights.assign(size_t{out} * taps.span, 0);
  std::vector<double> w(taps.span);
  for (uint32_t o = 0; o < out; ++o) {
    const double centre = (o + 0.5) * scale;
    const auto lo = static_cast<int64_t>(std::max(0.0, std::floor(centre - support)));
    const auto hi = static_cast<int64_t>(std::min<double>(in, std::ceil(centre + support)));
    double total = 0;
    uint32_t n = 0;
    for (int64_t i = lo; i < hi && n < taps.span; ++i, ++n) {
      w[n] = Lanczos3((static_cast<double>(i) + 0.5 - centre) / stretch);
      total += w[n];
    }
    taps.first[o] = static_cast<uint32_t>(lo);
    taps.count[o] = n;
    for (uint32_t k = 0; k < n; ++k) {
      taps.weights[size_t{o} * taps.span + k] =
          static_cast<int32_t>(std::lround(w[k] / total * (1 << kTapShift)));
    }
  }
  return taps;
}

PIXELMILL_VECTOR_CLONES
void AccumulateRow(int32_t* acc, const uint8_t* row, int32_t weight, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += row[i] * weight;
}

PIXELMILL_VECTOR_CLONES
void RoundRow(const int32_t* acc, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t v = (acc[i] + (1 << (kTapShift - 1))) >> kTapShift;
    out[i] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

// The taps for `in` to `out` samples, kept per thread for the last few sizes: photos from one
// source mostly come in a handful of sizes, and the weights cost a sine each.
const Taps& TapsFor(uint32_t in, uint32_t out) {
  struct Kept {
    uint32_t in = 0, out = 0;
    Taps taps;
  };
  constexpr size_t kKept = 16;
  thread_local std::vector<Kept> kept;  // replaced round robin once full
  thread_local size_t next = 0;
  for (const Kept& k : kept) {
    if (k.in == in && k.out == out) return k.taps;
  }
  Kept made{in, out, ComputeTaps(in, out)};
  if (kept.size() < kKept) {
    kept.push_back(std::move(made));
    return kept.back().taps;
  }
  Kept& slot = kept[next];
  next = (next + 1) % kKept;
  slot = std::move(made);
  return slot.taps;
}

// Output row o of `out` is the sum over k of weight k times row first[o] + k of `in`; rows are
// `n` bytes. Whole rows at a time, so the loops vectorise.
void ResampleRows(const uint8_t* in, size_t n, const Taps& taps, uint8_t* out,
                  std::vector<int32_t>& acc) {
  acc.resize(n);
  for (size_t o = 0; o < taps.first.size(); ++o) {
    std::fill(acc.begin(), acc.end(), 0);
    const int32_t* w = &taps.weights[o * taps.span];
    for (uint32_t k = 0; k < taps.count[o]; ++k) {
      AccumulateRow(acc.data(), in + n * (taps.first[o] + k), w[k], n);
    }
    RoundRow(acc.data(), out + n * o, n);
  }
}

// out = in with rows and columns swapped (pixels keep their bands), in tiles that stay in cache.
template <size_t kBands>
void TransposeTiles(const Pixels& in, Pixels& out) {
  constexpr size_t kTile = 32;
  const size_t in_row = in.row_bytes(), out_row = out.row_bytes();
  for (size_t y0 = 0; y0 < in.height; y0 += kTile) {
    const size_t y1 = std::min<size_t>(y0 + kTile, in.height);
    for (size_t x0 = 0; x0 < in.width; x0 += kTile) {
      const size_t x1 = std::min<size_t>(x0 + kTile, in.width);
      for (size_t y = y0; y < y1; ++y) {
        const uint8_t* from = in.data.data() + in_row * y + x0 * kBands;
        uint8_t* to = out.data.data() + out_row * x0 + y * kBands;
        for (size_t x = x0; x < x1; ++x, from += kBands, to += out_row) {
          for (size_t c = 0; c < kBands; ++c) to[c] = from[c];
        }
      }
    }
  }
}

void Transpose(const Pixels& in, Pixels& out) {
  out.Resize(in.height, in.width, in.bands);
  if (in.bands == 1) {
    TransposeTiles<1>(in, out);
  } else {
    TransposeTiles<3>(in, out);
  }
}

// p = m p for each RGB pixel, m in 16.16 fixed point, results truncated and clamped.
PIXELMILL_VECTOR_CLONES
void Recombine(uint8_t* p, size_t pixels, const int32_t* m) {
  for (size_t i = 0; i < pixels; ++i, p += 3) {
    const int32_t r = p[0], g = p[1], b = p[2];
    for (size_t c = 0; c < 3; ++c) {
      const int32_t v = (m[3 * c] * r + m[3 * c + 1] * g + m[3 * c + 2] * b) >> kShift;
      p[c] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

}  // namespace

double LibvipsMaskSigma(double sigma) {
  constexpr double kMinAmplitude = 0.2;  // libvips' gaussblur and sharpen default
  double sum = 0, moment = 0;
  for (int x = 0;; ++x) {
    const double v = std::exp(-x * x / (2 * sigma * sigma));
    if (v < kMinAmplitude) break;
    const double copies = x == 0 ? 1 : 2;
    sum += copies * v;
    moment += copies * v * x * x;
  }
  return std::sqrt(moment / sum);
}

void GaussianBlur(Pixels& image, double sigma, Pixels& scratch) {
  constexpr int kPasses = 3;
  if (sigma < 0.2) return;  // as libvips: no blur
  const double spread = LibvipsMaskSigma(sigma);
  if (spread == 0) return;
  const Box box = BoxFor(spread, kPasses);
  BlurRows(image, box, kPasses);
  scratch.Resize(image.width, image.height, image.bands);
  for (int pass = 0; pass < kPasses; ++pass) {
    BoxColumns(image, scratch, box);
    std::swap(image, scratch);
  }
}

void Sharpen(Pixels& image, double sigma, Pixels& scratch) {
  if (image.bands == 1) SpreadGrey(image, scratch);  // as libvips' path, which sharpens sRGB
  // libvips' curve in L* units; one L* is 2.55 levels of 8-bit luma.
  constexpr double kX1 = 2, kM2 = 3, kY2 = 10, kY3 = 20, kLevelsPerL = 2.55;
  std::array<int16_t, 511> boost{};  // by luma difference + 255
  for (int d = -255; d <= 255; ++d) {
    const double v = d / kLevelsPerL, a = std::abs(v);
    const double y = a <= kX1 ? 0 : std::min((a - kX1) * kM2, v > 0 ? kY2 : kY3);
    boost[static_cast<size_t>(d + 255)] =
        static_cast<int16_t>(std::lround(std::copysign(y, v) * kLevelsPerL));
  }
  const size_t pixels = size_t{image.width} * image.height;
  Pixels luma;
  luma.Resize(image.width, image.height, 1);
  const int b = image.bands;
  GreyRows(image.data.data(), luma.data.data(), pixels);
  Pixels blurred = luma;
  GaussianBlur(blurred, sigma, scratch);
  for (size_t i = 0; i < pixels; ++i) {
    const int delta = boost[static_cast<size_t>(luma.data[i] - blurred.data[i] + 255)];
    if (delta == 0) continue;
    for (int c = 0; c < b; ++c) {
      uint8_t& v = image.data[i * static_cast<size_t>(b) + static_cast<size_t>(c)];
      v = Clamp8(v + delta);
    }
  }
}

void ToGrey(Pixels& image, Pixels& scratch) {
  if (image.bands == 1) return;
  scratch.Resize(image.width, image.height, 1);
  GreyRows(image.data.data(), scratch.data.data(), size_t{image.width} * image.height);
  std::swap(image, scratch);
}

void Sepia(Pixels& image, double strength, Pixels& scratch) {
  if (image.bands == 1) SpreadGrey(image, scratch);
  constexpr double kSepia[9] = {0.393, 0.769, 0.189, 0.349, 0.686, 0.168, 0.272, 0.534, 0.131};
  std::array<int32_t, 9> m{};  // the blended matrix, 16.16
  for (size_t k = 0; k < 9; ++k) {
    const double v = (1 - strength) * (k % 4 == 0 ? 1.0 : 0.0) + strength * kSepia[k];
    m[k] = static_cast<int32_t>(std::lround(v * (1 << kShift)));
  }
  Recombine(image.data.data(), size_t{image.width} * image.height, m.data());
}

void Linear(Pixels& image, double a, double b) {
  std::array<uint8_t, 256> table{};
  for (int v = 0; v < 256; ++v) {
    table[static_cast<size_t>(v)] = Clamp8(static_cast<int>(std::trunc(a * v + b)));
  }
  for (uint8_t& v : image.data) v = table[v];
}

void SobelEdges(Pixels& image, Pixels& scratch) {
  ToGrey(image, scratch);
  const int w = static_cast<int>(image.width), h = static_cast<int>(image.height);
  scratch.Resize(image.width, image.height, 1);
  // libvips' convi with scale 2, offset 128: (sum + 1) / 2 + 128, C division, clamped.
  auto stored = [](int sum) { return std::clamp((sum + 1) / 2 + 128, 0, 255); };
  for (int y = 0; y < h; ++y) {
    const uint8_t* up = &image.data[static_cast<size_t>(std::max(y - 1, 0)) * image.width];
    const uint8_t* mid = &image.data[static_cast<size_t>(y) * image.width];
    const uint8_t* down = &image.data[static_cast<size_t>(std::min(y + 1, h - 1)) * image.width];
    uint8_t* out = &scratch.data[static_cast<size_t>(y) * image.width];
    for (int x = 0; x < w; ++x) {
      const auto l = static_cast<size_t>(std::max(x - 1, 0)), c = static_cast<size_t>(x),
                 r = static_cast<size_t>(std::min(x + 1, w - 1));
      // Mask rows 1 2 1 / 0 0 0 / -1 -2 -1, and that mask turned a quarter clockwise.
      const int gy = up[l] + 2 * up[c] + up[r] - down[l] - 2 * down[c] - down[r];
      const int gx = up[r] + 2 * mid[r] + down[r] - up[l] - 2 * mid[l] - down[l];
      const int v = std::abs(2 * (stored(gy) - 128)) + std::abs(2 * (stored(gx) - 128));
      out[x] = static_cast<uint8_t>(std::min(v, 255));
    }
  }
  std::swap(image, scratch);
}

void Pixelate(Pixels& image, int block) {
  if (block <= 1) return;
  const auto b = static_cast<size_t>(block), bands = static_cast<size_t>(image.bands);
  const size_t w = image.width, h = image.height, n = image.row_bytes();
  const auto mean = [b](uint32_t sum) { return static_cast<uint8_t>((sum + b / 2) / b); };
  std::vector<uint32_t> sums(n);
  std::vector<uint8_t> column_means(n), row(n);
  for (size_t y0 = 0; y0 < h; y0 += b) {
    std::fill(sums.begin(), sums.end(), 0);
    for (size_t k = 0; k < b; ++k) {  // rows past the bottom repeat the last
      const uint8_t* from = &image.data[std::min(y0 + k, h - 1) * n];
      for (size_t i = 0; i < n; ++i) sums[i] += from[i];
    }
    for (size_t i = 0; i < n; ++i) column_means[i] = mean(sums[i]);
    for (size_t x0 = 0; x0 < w; x0 += b) {
      for (size_t c = 0; c < bands; ++c) {
        uint32_t sum = 0;
        for (size_t k = 0; k < b; ++k) sum += column_means[std::min(x0 + k, w - 1) * bands + c];
        const uint8_t v = mean(sum);
        for (size_t x = x0; x < std::min(x0 + b, w); ++x) row[x * bands + c] = v;
      }
    }
    for (size_t y = y0; y < std::min(y0 + b, h); ++y) {
      std::copy(row.begin(), row.end(), image.data.begin() + static_cast<ptrdiff_t>(y * n));
    }
  }
}

void ThumbnailSize(uint32_t width, uint32_t height, int size, uint32_t* out_width,
                   uint32_t* out_height) {
  const double shrink =
      std::max({1.0, static_cast<double>(width) / size, static_cast<double>(height) / size});
  *out_width = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(width / shrink)));
  *out_height = std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(height / shrink)));
}

void Thumbnail(Pixels& image, int size, Pixels& scratch) {
  uint32_t ow = 0, oh = 0;
  ThumbnailSize(image.width, image.height, size, &ow, &oh);
  if (ow == image.width && oh == image.height) return;
  // Down, then across as down on the transposed image: every pass runs over whole rows.
  // (Each TapsFor() result is used before the next call, which may replace it.)
  thread_local std::vector<int32_t> acc;
  const uint32_t width = image.width;
  scratch.Resize(width, oh, image.bands);
  ResampleRows(image.data.data(), image.row_bytes(), TapsFor(image.height, oh), scratch.data.data(),
               acc);
  Transpose(scratch, image);
  scratch.Resize(oh, ow, image.bands);
  ResampleRows(image.data.data(), image.row_bytes(), TapsFor(width, ow), scratch.data.data(), acc);
  Transpose(scratch, image);
}

}  // namespace pixelmill
