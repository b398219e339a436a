// DownloadBudget: how bodies reserve, pause, resume and are forced, without curl.
#include "coordinator/download_budget.h"

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

constexpr uint64_t kCap = 20 << 20;

BodyLease Body(const DownloadBudget& policy, uint32_t id) {
  BodyLease body;
  body.id = id;
  policy.Bind(body);
  return body;
}

TEST(DownloadBudgetTest, AKnownLengthIsReservedWholeAtTheFirstWrite) {
  ByteBudget budget(1 << 20);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 0);
  ASSERT_TRUE(policy.Reserve(a, 16384, 300000));
  EXPECT_EQ(a.lease.bytes(), 300000u);
  EXPECT_TRUE(policy.Reserve(a, 300000, 300000)) << "already held";
  EXPECT_EQ(budget.used(), 300000u);
}

TEST(DownloadBudgetTest, AnUnknownLengthGrowsInDoublingStepsUpToTheCap) {
  ByteBudget budget(64 << 20);
  DownloadBudget policy(&budget, 1 << 20);
  BodyLease a = Body(policy, 0);
  ASSERT_TRUE(policy.Reserve(a, 100, -1));
  EXPECT_EQ(a.lease.bytes(), DownloadBudget::kFirstStep);
  ASSERT_TRUE(policy.Reserve(a, DownloadBudget::kFirstStep + 1, -1));
  EXPECT_EQ(a.lease.bytes(), 2 * DownloadBudget::kFirstStep);
  ASSERT_TRUE(policy.Reserve(a, 3 * DownloadBudget::kFirstStep, -1));
  EXPECT_EQ(a.lease.bytes(), 1u << 20) << "capped by max_image_bytes";
}

TEST(DownloadBudgetTest, ABodyThatDoesNotFitPausesAndResumesWhenBytesComeBack) {
  ByteBudget budget(1000);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2), c = Body(policy, 3);
  ASSERT_TRUE(policy.Reserve(a, 10, 600));
  EXPECT_FALSE(policy.Reserve(b, 10, 600));
  EXPECT_FALSE(policy.Reserve(c, 10, 500));
  EXPECT_TRUE(b.paused);
  EXPECT_EQ(b.lease.bytes(), 0u) << "a refused grant holds nothing";
  EXPECT_EQ(policy.paused(), 2u);
  EXPECT_EQ(policy.pauses(), 2u);
  EXPECT_FALSE(policy.MayStart()) << "nothing starts while a body waits";
  EXPECT_TRUE(policy.TakeResumable().empty()) << "a holds bytes and is not paused";
  a.lease.Reset();  // a's body was delivered and saved
  EXPECT_EQ(policy.TakeResumable(), std::vector<uint32_t>{2}) << "c does not fit beside b";
  EXPECT_FALSE(b.paused);
  EXPECT_EQ(b.lease.bytes(), 600u);
  EXPECT_TRUE(c.paused);
  b.lease.Reset();
  EXPECT_EQ(policy.TakeResumable(), std::vector<uint32_t>{3});
  EXPECT_EQ(c.lease.bytes(), 500u);
  EXPECT_EQ(policy.paused(), 0u);
}

TEST(DownloadBudgetTest, OnlyPausedBodiesHoldingTheBudgetForcesTheOneHoldingMost) {
  ByteBudget budget(1000);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2);
  ByteLease downstream = budget.Take(50);  // a delivered image not yet saved
  ASSERT_TRUE(policy.Reserve(a, 10, 500));
  ASSERT_TRUE(policy.Reserve(b, 10, 400));
  // Both bodies are longer than their servers said (a server may lie): both need more.
  EXPECT_FALSE(policy.Reserve(a, 700, 500));
  EXPECT_FALSE(policy.Reserve(b, 700, 400));
  EXPECT_TRUE(policy.TakeResumable().empty()) << "the image downstream will come back";
  downstream.Reset();
  EXPECT_EQ(policy.TakeResumable(), std::vector<uint32_t>{1}) << "only paused bodies hold it";
  EXPECT_TRUE(a.forced);
  EXPECT_EQ(a.lease.bytes(), 700u);
  EXPECT_EQ(policy.forced(), 1u);
  EXPECT_TRUE(policy.Reserve(a, 5000, 500)) << "a forced body grows freely";
  EXPECT_EQ(budget.peak(), 5400u);
  EXPECT_TRUE(policy.TakeResumable().empty()) << "a is not paused: b waits for it";
  policy.Forget(a);  // a's transfer ended
  EXPECT_FALSE(a.forced);
  a.lease.Reset();
  EXPECT_EQ(policy.TakeResumable(), std::vector<uint32_t>{2});
  EXPECT_EQ(b.lease.bytes(), 700u);
}

// Bodies of unknown length take the budget in steps: those that already hold a part grow first,
// and a new body waits behind them, so they finish instead of all stalling half-grown.
TEST(DownloadBudgetTest, GrowingBodiesGoFirstAndNewOnesDoNotOvertake) {
  constexpr uint64_t kStep = DownloadBudget::kFirstStep;
  ByteBudget budget(5 * kStep);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2), c = Body(policy, 3), d = Body(policy, 4);
  ASSERT_TRUE(policy.Reserve(a, 10, -1));
  ASSERT_TRUE(policy.Reserve(a, kStep + 1, -1));  // doubled: 2 steps
  ASSERT_TRUE(policy.Reserve(b, 10, -1));
  ASSERT_TRUE(policy.Reserve(c, 10, -1));  // 4 steps of 5 held
  EXPECT_FALSE(policy.Reserve(a, 2 * kStep + 1, -1)) << "a needs 2 more steps";
  EXPECT_FALSE(policy.Reserve(d, 10, -1)) << "one step is free, but a waits first";
  EXPECT_EQ(d.lease.bytes(), 0u);
  c.lease.Reset();  // c was delivered and saved
  EXPECT_EQ(policy.TakeResumable(), std::vector<uint32_t>{1}) << "a grows first";
  EXPECT_EQ(a.lease.bytes(), 4 * kStep);
  EXPECT_TRUE(d.paused);
  a.lease.Reset();
  EXPECT_EQ(policy.TakeResumable(), std::vector<uint32_t>{4});
  EXPECT_EQ(policy.forced(), 0u);
}

TEST(DownloadBudgetTest, ATransferEndingWhilePausedLeavesTheQueue) {
  ByteBudget budget(100);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2);
  ASSERT_TRUE(policy.Reserve(a, 10, 100));
  EXPECT_FALSE(policy.Reserve(b, 10, 50));
  policy.Forget(b);  // it timed out while paused
  EXPECT_EQ(policy.paused(), 0u);
  EXPECT_FALSE(b.paused);
  EXPECT_FALSE(policy.MayStart()) << "the budget is full";
  a.lease.Reset();
  EXPECT_TRUE(policy.MayStart()) << "empty";
  EXPECT_TRUE(policy.TakeResumable().empty());
}

TEST(DownloadBudgetTest, WaitTimeIsCountedWhileSomeDownloadWaits) {
  ByteBudget budget(100);
  DownloadBudget policy(&budget, kCap);
  policy.NoteWaiting(1000, false);
  policy.NoteWaiting(2000, true);  // held back
  policy.NoteWaiting(2500, true);
  policy.NoteWaiting(3000, false);
  EXPECT_DOUBLE_EQ(policy.wait_seconds(5000), 1.0);
  BodyLease a = Body(policy, 1), b = Body(policy, 2);
  ASSERT_TRUE(policy.Reserve(a, 10, 100));
  EXPECT_FALSE(policy.Reserve(b, 10, 100));
  policy.NoteWaiting(6000, false);  // b is paused: still waiting
  EXPECT_DOUBLE_EQ(policy.wait_seconds(6500), 1.5);
}

TEST(DownloadBudgetTest, WithoutABudgetNothingEverPauses) {
  DownloadBudget policy(nullptr, kCap);
  BodyLease a = Body(policy, 1);
  EXPECT_TRUE(policy.Reserve(a, 10, 15 << 20));
  EXPECT_TRUE(policy.Reserve(a, 18 << 20, 15 << 20));
  EXPECT_TRUE(policy.MayStart());
  EXPECT_EQ(policy.pauses(), 0u);
}

}  // namespace
}  // namespace pixelmill
