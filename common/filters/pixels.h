// Pixels: an 8-bit image in memory, bands interleaved (1 = grey, 3 = RGB), and the filters the
// fast JPEG path (fast_jpeg.h) runs on it without libvips. Each is the cheapest way we know to
// compute what libvips' exact filter computes; how close each comes is stated per filter below
// and checked against libvips in tests/common/filters/fast_jpeg_test.cc.
//
// Buffers are reused: an operation that needs room writes into `scratch` and swaps, so a worker
// that filters a million images of one size allocates for the first only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pixelmill {

struct Pixels {
  uint32_t width = 0, height = 0;
  int bands = 0;              // 1 or 3
  std::vector<uint8_t> data;  // height rows of width * bands bytes, no padding

  size_t row_bytes() const { return size_t{width} * static_cast<size_t>(bands); }
  void Resize(uint32_t w, uint32_t h, int b) {
    width = w;
    height = h;
    bands = b;
    data.resize(row_bytes() * h);
  }
};

// libvips' gaussblur(sigma): three extended box blurs (Gwosdek et al., "Theoretical foundations
// of Gaussian convolution by extended box filtering"; the approximation Pillow makes), edges
// extended, of the variance of libvips' own mask, a Gaussian cut where it falls under 0.2 of its
// peak (so about 0.83 sigma). Below sigma 0.2 nothing, as libvips.
void GaussianBlur(Pixels& image, double sigma, Pixels& scratch);

// The standard deviation of libvips' Gaussian mask for `sigma` (cut at amplitude 0.2).
double LibvipsMaskSigma(double sigma);

// Unsharp mask of the luminance only, with libvips' sharpen curve (m1 0, m2 3, x1 2, y2 10,
// y3 20 in L* units, applied to ToGrey's luma): detail smaller than x1 is left alone, larger detail
// is boosted 3x up to a limit. The blur is GaussianBlur(sigma). Grey is spread to RGB first.
void Sharpen(Pixels& image, double sigma, Pixels& scratch);

// RGB to one grey band: Rec. 601 luma, (19595 R + 38470 G + 7471 B + 32768) >> 16, libjpeg's
// RGB to Y (so a JPEG's own Y plane is this grey; Pillow's "L" and OpenCV's grey are the same).
void ToGrey(Pixels& image, Pixels& scratch);

// The sepia matrix blended with the identity by `strength` (0..1), on RGB (grey is spread to
// RGB first), as libvips' recomb then cast: truncated.
void Sepia(Pixels& image, double strength, Pixels& scratch);

// Every sample v becomes a * v + b, clamped to 0..255 and truncated, as libvips' linear then
// cast to uchar: invert (-1, 255), brightness (F, 0), contrast (F, 128 (1 - F)).
void Linear(Pixels& image, double a, double b);

// RGB to grey (ToGrey), then libvips' 8-bit Sobel: each 3x3 gradient halved (rounded as
// libvips' integer convolution) and stored around 128 in 8 bits, then |2 (gx - 128)| +
// |2 (gy - 128)| clamped to 255; edges extended.
void SobelEdges(Pixels& image, Pixels& scratch);

// Blocks of `block` x `block` pixels become their mean (the image padded to whole blocks by
// copying its last row and column, as libvips' shrink then zoom): columns first, rounded, then
// rows, rounded, as libvips' shrinkv then shrinkh.
void Pixelate(Pixels& image, int block);

// Shrinks to fit `size` x `size`, aspect kept, never enlarging (libvips' thumbnail_image with
// size=down: the longest side becomes `size`, the other rounded). Separable Lanczos-3 widened by
// the shrink (antialiased), libvips' kernel.
void Thumbnail(Pixels& image, int size, Pixels& scratch);

// The size Thumbnail() gives an image of width x height.
void ThumbnailSize(uint32_t width, uint32_t height, int size, uint32_t* out_width,
                   uint32_t* out_height);

}  // namespace pixelmill
