#include "common/base/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace pixelmill {
namespace {

constexpr uint64_t kSubBuckets = uint64_t{1} << Histogram::kSubBucketBits;

}  // namespace

// A value of bit width w > kSubBucketBits + 1 keeps its top kSubBucketBits + 1 bits (its
// "mantissa", 128..255) and drops `shift` = w - 1 - kSubBucketBits below them; the buckets of
// one shift follow those of the previous one, so the index is shift x 128 + mantissa. Values
// below 256 are their own index (shift 0).
size_t Histogram::BucketOf(uint64_t value) {
  if (value < 2 * kSubBuckets) return static_cast<size_t>(value);
  const int shift = std::bit_width(value) - 1 - kSubBucketBits;
  if (shift > kMaxValueBits - 1 - kSubBucketBits) return kBuckets - 1;
  return static_cast<size_t>(uint64_t(shift) * kSubBuckets + (value >> shift));
}

uint64_t Histogram::BucketLow(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return bucket;
  const uint64_t shift = bucket / kSubBuckets - 1;
  return (bucket - shift * kSubBuckets) << shift;
}

uint64_t Histogram::BucketWidth(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return 1;
  return uint64_t{1} << (bucket / kSubBuckets - 1);
}

void Histogram::Record(uint64_t value, uint64_t count) {
  if (count == 0) return;
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  counts_[BucketOf(value)] += count;
  count_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value) * static_cast<double>(count);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  if (counts_.empty()) counts_.assign(kBuckets, 0);
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  if (q <= 0) return static_cast<double>(min_);
  if (q >= 1) return static_cast<double>(max_);
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  size_t bucket = 0;
  for (; bucket < kBuckets - 1; ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) break;
  }
  const double middle =
      static_cast<double>(BucketLow(bucket)) + static_cast<double>(BucketWidth(bucket) - 1) / 2;
  return std::clamp(middle, static_cast<double>(min_), static_cast<double>(max_));
}

}  // namespace pixelmill
