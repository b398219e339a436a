// Histogram: bucket arithmetic, exact min/max/mean, merging, and percentiles within 1 % of the
// exact ones on seeded uniform and log-normal samples.
#include "common/base/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

// The value of rank ceil(q x n) in sorted order, as Histogram::Percentile defines it.
double ExactPercentile(std::vector<uint64_t> values, double q) {
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return static_cast<double>(values[rank == 0 ? 0 : rank - 1]);
}

void ExpectPercentilesWithinOnePercent(const std::vector<uint64_t>& values) {
  Histogram h;
  for (uint64_t v : values) h.Record(v);
  ASSERT_EQ(h.Count(), values.size());
  for (double q : {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999}) {
    const double exact = ExactPercentile(values, q);
    EXPECT_NEAR(h.Percentile(q), exact, exact * 0.01) << "q = " << q;
  }
}

TEST(HistogramTest, EveryValueFallsInABucketThatHoldsIt) {
  for (size_t b = 0; b < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketLow(b)), b) << b;
    if (b + 1 < Histogram::kBuckets) {
      // Buckets are contiguous: the next one starts where this one ends.
      ASSERT_EQ(Histogram::BucketLow(b) + Histogram::BucketWidth(b), Histogram::BucketLow(b + 1))
          << b;
    }
    // At most 1/128 of its values wide (buckets below 256 are exact).
    ASSERT_LE(Histogram::BucketWidth(b) * 128, std::max<uint64_t>(128, Histogram::BucketLow(b)))
        << b;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (26 + rng() % 38);  // below 2^38, spread over the magnitudes
    const size_t b = Histogram::BucketOf(v);
    ASSERT_LE(Histogram::BucketLow(b), v);
    ASSERT_LT(v, Histogram::BucketLow(b) + Histogram::BucketWidth(b));
  }
}

TEST(HistogramTest, EmptyIsAllZero) {
  Histogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Min(), 0u);
  EXPECT_EQ(h.Max(), 0u);
  EXPECT_EQ(h.Mean(), 0);
  EXPECT_EQ(h.Percentile(0.5), 0);
}

TEST(HistogramTest, SmallValuesAreExactAndMinMaxMeanAreExact) {
  Histogram h;
  for (uint64_t v : {5, 1, 4, 2, 3}) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 3);
  EXPECT_EQ(h.Percentile(0.99), 5);
  EXPECT_EQ(h.Percentile(0), 1);
  EXPECT_EQ(h.Min(), 1u);
  EXPECT_EQ(h.Max(), 5u);
  EXPECT_EQ(h.Mean(), 3);
  h.Record(1'000'003, 2);
  EXPECT_EQ(h.Count(), 7u);
  EXPECT_EQ(h.Max(), 1'000'003u);
  EXPECT_DOUBLE_EQ(h.Sum(), 15 + 2'000'006.0);
  EXPECT_EQ(h.Percentile(1), 1'000'003);
}

TEST(HistogramTest, UniformPercentilesAreWithinOnePercent) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> micros(1'000, 2'000'000);
  std::vector<uint64_t> values(200'000);
  for (uint64_t& v : values) v = micros(rng);
  ExpectPercentilesWithinOnePercent(values);
}

TEST(HistogramTest, LogNormalPercentilesAreWithinOnePercent) {
  std::mt19937_64 rng(1234);
  std::lognormal_distribution<double> micros(std::log(50'000.0), 1.5);  // median 50 ms
  std::vector<uint64_t> values(200'000);
  for (uint64_t& v : values) v = static_cast<uint64_t>(micros(rng));
  ExpectPercentilesWithinOnePercent(values);
}

TEST(HistogramTest, HoursAreStillWithinOnePercent) {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<uint64_t> micros(3'600'000'000, 72 * 3'600'000'000ull);
  std::vector<uint64_t> values(10'000);
  for (uint64_t& v : values) v = micros(rng);
  ExpectPercentilesWithinOnePercent(values);
}

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<uint64_t> micros(0, 10'000'000);
  Histogram a, b, all;
  for (int i = 0; i < 10'000; ++i) {
    const uint64_t v = micros(rng);
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  Histogram merged;
  merged.Merge(a);
  merged.Merge(Histogram{});
  merged.Merge(b);
  EXPECT_EQ(merged.Count(), all.Count());
  EXPECT_EQ(merged.Min(), all.Min());
  EXPECT_EQ(merged.Max(), all.Max());
  EXPECT_DOUBLE_EQ(merged.Sum(), all.Sum());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 1.0}) {
    EXPECT_EQ(merged.Percentile(q), all.Percentile(q)) << q;
  }
}

TEST(HistogramTest, ValuesBeyondTheRangeCountInTheTopBucketWithAnExactMax) {
  Histogram h;
  h.Record(uint64_t{1} << 50);
  h.Record(UINT64_MAX);
  EXPECT_EQ(Histogram::BucketOf(UINT64_MAX), Histogram::kBuckets - 1);
  EXPECT_EQ(h.Count(), 2u);
  EXPECT_EQ(h.Max(), UINT64_MAX);
  EXPECT_EQ(h.Min(), uint64_t{1} << 50);
  // Read from the top bucket, then kept within [min, max].
  EXPECT_EQ(h.Percentile(0.5), static_cast<double>(uint64_t{1} << 50));
}

}  // namespace
}  // namespace pixelmill
