// PaddedJpeg: a JPEG grown to a chosen size by comment (COM) segments inserted right after its
// start-of-image marker, so the image API fixture can serve a large body that is still a valid
// image (it probes and decodes to the same picture) without holding it in memory: the bytes are
// produced piece by piece as they are sent (?pad=BYTES).
//
// Borrows the JPEG's bytes (the ImageBank's, which outlive it). Pure code; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pixelmill::fixture {

class PaddedJpeg {
 public:
  // Comment segments are at most this long: two marker bytes, a 16-bit length (which counts
  // itself) and 65533 bytes of text.
  static constexpr uint64_t kMaxSegment = 2 + 65535;

  // `jpeg` grown to `size` bytes, or to up to 3 bytes more when the last segment would be
  // shorter than its 4-byte header; `jpeg` as it is when `size` is not larger.
  // REQUIRES: jpeg starts with the start-of-image marker (FF D8).
  PaddedJpeg(std::string_view jpeg, uint64_t size);

  uint64_t size() const { return jpeg_.size() + padding_; }
  // Appends bytes [offset, offset + n) of the padded JPEG to `out`. REQUIRES: offset + n <= size().
  void Append(uint64_t offset, uint64_t n, std::string& out) const;

 private:
  std::string_view jpeg_;
  uint64_t padding_ = 0;  // bytes of comment segments after the first two bytes of jpeg_
};

}  // namespace pixelmill::fixture
