// Histogram: a fixed-size, log-bucketed histogram of non-negative integer values (latencies in
// microseconds, in pixelmill), in the style of HdrHistogram. Values below 256 have a bucket each;
// above, every power of two is split into 128 equal buckets, so a bucket is at most 1/128 of its
// values wide and a percentile read from its middle is within 0.4 % of the exact one. Values up to
// 2^38 (about 76 hours in microseconds) are told apart; larger ones count in the top bucket (Max()
// stays exact). Memory is constant: 4,096 counters (32 KiB), allocated at the first Record() or
// Merge(), none while empty; Min, Max, Count and the sum (hence Mean) are exact.
//
// A value type, not thread-safe: one owner records; copy or Merge() to combine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pixelmill {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;  // 128 buckets per power of two
  static constexpr int kMaxValueBits = 38;  // values below 2^38 have their own bucket
  static constexpr size_t kBuckets = size_t{kMaxValueBits - kSubBucketBits + 1}
                                     << kSubBucketBits;  // 4,096

  // Adds `count` occurrences of `value`.
  void Record(uint64_t value, uint64_t count = 1);
  // Adds every value recorded in `other`.
  void Merge(const Histogram& other);

  uint64_t Count() const { return count_; }
  // Exact; 0 when empty.
  uint64_t Min() const { return count_ == 0 ? 0 : min_; }
  uint64_t Max() const { return max_; }
  double Sum() const { return sum_; }
  double Mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }
  // The q-quantile (q in 0..1): the value of rank ceil(q x Count()) in sorted order (the
  // smallest for q = 0), read as the middle of its bucket and kept within [Min(), Max()].
  // 0 when empty.
  double Percentile(double q) const;

  // The bucket of `value`, and the smallest value and width of a bucket (for tests).
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketLow(size_t bucket);
  static uint64_t BucketWidth(size_t bucket);

 private:
  std::vector<uint64_t> counts_;  // kBuckets once anything was recorded
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX, max_ = 0;
  double sum_ = 0;
};

}  // namespace pixelmill
