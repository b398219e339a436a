// ByteBudget and ByteLease: grants within the limit (or alone), forced takes, the peak, and
// releases from another thread.
#include "common/base/byte_budget.h"

#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(ByteBudgetTest, TryTakeGrantsOnlyWhatFits) {
  ByteBudget budget(100);
  std::optional<ByteLease> a = budget.TryTake(60);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->bytes(), 60u);
  EXPECT_EQ(budget.used(), 60u);
  EXPECT_FALSE(budget.TryTake(41).has_value());
  EXPECT_EQ(budget.used(), 60u) << "a refused take holds nothing";
  std::optional<ByteLease> b = budget.TryTake(40);
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(budget.full());
  EXPECT_FALSE(budget.TryTake(1).has_value());
  EXPECT_TRUE(budget.TryTake(0).has_value());
  b.reset();
  EXPECT_EQ(budget.used(), 60u);
  EXPECT_FALSE(budget.full());
}

TEST(ByteBudgetTest, AnImageLargerThanTheBudgetRunsAlone) {
  ByteBudget budget(100);
  std::optional<ByteLease> big = budget.TryTake(250);
  ASSERT_TRUE(big.has_value()) << "an empty budget grants anything";
  EXPECT_EQ(budget.used(), 250u);
  EXPECT_TRUE(big->TryGrow(100)) << "the lease holding every byte may grow";
  EXPECT_FALSE(budget.TryTake(1).has_value());
  big.reset();
  EXPECT_EQ(budget.used(), 0u);

  std::optional<ByteLease> small = budget.TryTake(10);
  ByteLease growing(&budget);
  ASSERT_TRUE(growing.TryGrow(90));
  EXPECT_FALSE(growing.TryGrow(1)) << "another lease holds bytes too";
  small.reset();
  EXPECT_TRUE(growing.TryGrow(200)) << "alone again";
  EXPECT_EQ(budget.peak(), 350u) << "the big image alone, grown";
}

TEST(ByteBudgetTest, TakeAndGrowAlwaysSucceedAndShrinkGivesBack) {
  ByteBudget budget(100);
  ByteLease a = budget.Take(80);
  ByteLease b = budget.Take(80);
  EXPECT_EQ(budget.used(), 160u);
  b.Grow(40);
  EXPECT_EQ(b.bytes(), 120u);
  EXPECT_EQ(budget.peak(), 200u);
  b.Shrink(20);
  EXPECT_EQ(budget.used(), 100u);
  a.Reset();
  EXPECT_EQ(a.bytes(), 0u);
  EXPECT_EQ(a.budget(), &budget);
  EXPECT_EQ(budget.used(), 20u);
  EXPECT_EQ(budget.peak(), 200u) << "the peak stays";
}

TEST(ByteBudgetTest, LeasesMoveAndReleaseOnce) {
  ByteBudget budget(100);
  {
    ByteLease a = budget.Take(30);
    ByteLease b = std::move(a);
    EXPECT_EQ(a.bytes(), 0u);  // NOLINT(bugprone-use-after-move): empty by contract
    EXPECT_EQ(budget.used(), 30u);
    ByteLease c = budget.Take(5);
    c = std::move(b);  // c's own 5 bytes go back
    EXPECT_EQ(budget.used(), 30u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(ByteBudgetTest, ALeaseOfNoBudgetCountsWithoutLimit) {
  ByteLease unlimited;
  EXPECT_TRUE(unlimited.TryGrow(uint64_t{1} << 40));
  unlimited.Grow(1);
  EXPECT_EQ(unlimited.bytes(), (uint64_t{1} << 40) + 1);
  unlimited.Shrink(3);
  EXPECT_EQ(unlimited.bytes(), 3u);
}

TEST(ByteBudgetTest, LeasesReleasedOnAnotherThreadKeepTheCountExact) {
  ByteBudget budget(1 << 20);
  constexpr int kLeases = 20000;
  std::vector<ByteLease> leases;
  leases.reserve(kLeases);
  for (int i = 0; i < kLeases; ++i) leases.push_back(budget.Take(7));
  std::thread releaser([&] {
    for (ByteLease& lease : leases) lease.Reset();
  });
  // Meanwhile this thread takes and gives back, as the loop thread would.
  for (int i = 0; i < kLeases; ++i) {
    if (auto lease = budget.TryTake(3)) lease->Reset();
  }
  releaser.join();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_GE(budget.peak(), 7u * kLeases);
  EXPECT_LE(budget.peak(), 7u * kLeases + 3);
}

TEST(ParseByteSizeTest, PlainBytesAndBinarySuffixes) {
  EXPECT_EQ(ParseByteSize("1048576"), 1048576u);
  EXPECT_EQ(ParseByteSize("512M"), 512ull << 20);
  EXPECT_EQ(ParseByteSize("2G"), 2ull << 30);
  EXPECT_EQ(ParseByteSize("64k"), 64ull << 10);
  EXPECT_EQ(ParseByteSize("1g"), 1ull << 30);
}

TEST(ParseByteSizeTest, RefusesZeroGarbageAndOverflow) {
  for (const char* bad : {"", "0", "0M", "M", "-1", "+5", "12MB", "1T", " 1M", "1M ", "abc",
                          "18446744073709551616", "17179869184G"}) {
    EXPECT_FALSE(ParseByteSize(bad).has_value()) << bad;
  }
}

// "1.5G" was refused; a decimal is that many K, M or G rounded down to whole bytes.
TEST(ParseByteSizeTest, DecimalsRoundDownToWholeBytes) {
  EXPECT_EQ(ParseByteSize("1.5G"), (3ull << 30) / 2);
  EXPECT_EQ(ParseByteSize("0.5M"), 512ull << 10);
  EXPECT_EQ(ParseByteSize("1.0001K"), 1024u);  // 1024.1024 bytes
  EXPECT_EQ(ParseByteSize("2.25"), 2u);
  for (const char* bad : {"0.0G", "0.0000000001K", "1.G", ".5G", "1..5G", "1.5.0G", "-1.5G", "1,5G",
                          "1.5e3M", "17179869184.5G"}) {
    EXPECT_FALSE(ParseByteSize(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace pixelmill
