#include "tests/support/padded_jpeg.h"

#include <algorithm>
#include <cassert>

namespace pixelmill::fixture {
namespace {

constexpr uint64_t kSoi = 2;          // the start-of-image marker, kept in front
constexpr uint64_t kSegmentHead = 4;  // FF FE and the 16-bit length
constexpr char kCommentByte = ' ';

}  // namespace

PaddedJpeg::PaddedJpeg(std::string_view jpeg, uint64_t size) : jpeg_(jpeg) {
  assert(jpeg.substr(0, kSoi) == "\xFF\xD8");
  if (size <= jpeg.size()) return;
  padding_ = size - jpeg.size();
  // Every segment, the last one too, needs room for its head.
  const uint64_t last = padding_ % kMaxSegment;
  if (last > 0 && last < kSegmentHead) padding_ += kSegmentHead - last;
}

void PaddedJpeg::Append(uint64_t offset, uint64_t n, std::string& out) const {
  assert(offset + n <= size());
  const uint64_t end = offset + n;
  while (offset < end) {
    if (offset < kSoi || offset >= kSoi + padding_) {
      // The JPEG's own bytes: its marker in front, everything else after the padding.
      const uint64_t from = offset < kSoi ? offset : offset - padding_;
      const uint64_t until = offset < kSoi ? std::min(end, kSoi) : end;
      out.append(jpeg_.substr(from, until - offset));
      offset = until;
      continue;
    }
    const uint64_t at = offset - kSoi;  // within the padding
    const uint64_t segment = at - at % kMaxSegment;
    const uint64_t length = std::min(kMaxSegment, padding_ - segment);
    const uint64_t within = at - segment;
    if (within < kSegmentHead) {
      const uint64_t counted = length - 2;  // the length field counts itself, not the marker
      const char head[kSegmentHead] = {'\xFF', '\xFE', static_cast<char>(counted >> 8),
                                       static_cast<char>(counted & 0xFF)};
      out.push_back(head[within]);
      ++offset;
      continue;
    }
    const uint64_t until = std::min(end, kSoi + segment + length);
    out.append(until - offset, kCommentByte);
    offset = until;
  }
}

}  // namespace pixelmill::fixture
