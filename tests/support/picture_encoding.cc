#include "tests/support/picture_encoding.h"

#include <glib.h>

#include <memory>

namespace pixelmill::fixture {
namespace {

struct GFreeDeleter {
  void operator()(void* p) const { g_free(p); }
};

}  // namespace

const char* SaveSuffix(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return ".jpg[Q=85,strip]";
    case ImageFormat::kPng:
      return ".png[compression=6,strip]";
    case ImageFormat::kWebp:
      return ".webp[Q=80,strip]";
    case ImageFormat::kGif:
      return ".gif[strip]";
  }
  return ".jpg[Q=85,strip]";
}

std::string EncodePicture(const vips::VImage& image, ImageFormat format) {
  void* data = nullptr;
  size_t size = 0;
  image.write_to_buffer(SaveSuffix(format), &data, &size);
  std::unique_ptr<void, GFreeDeleter> owned(data);
  return std::string(static_cast<const char*>(data), size);
}

std::string Corrupted(std::string_view body) {
  std::string out(body);
  uint32_t state = 0x9e3779b9u;
  for (size_t i = body.size() * 2 / 5; i < out.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    out[i] = static_cast<char>(state >> 24);
  }
  return out;
}

}  // namespace pixelmill::fixture
