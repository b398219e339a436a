// DownloadBudget: how transfers are admitted and how bodies reserve, pause, resume and are
// stopped, without curl. The promise under test: the bytes held never pass the budget by more
// than one image, whatever the bodies' lengths.
#include "coordinator/download/download_budget.h"

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

// A point `ms` milliseconds into the run.
TimePoint At(int ms) { return TimePoint(std::chrono::milliseconds(ms)); }

constexpr uint64_t kCap = 20 << 20;
constexpr uint64_t kStep = DownloadBudget::kStep;

BodyLease Body(const DownloadBudget& policy, uint32_t id) {
  BodyLease body;
  body.id = id;
  policy.Bind(body);
  return body;
}

TEST(DownloadBudgetTest, ATransferGoesOnTheWireOnlyWithAnOpeningReservation) {
  ByteBudget budget(4 * kStep + 10);
  DownloadBudget policy(&budget, kCap);
  EXPECT_EQ(policy.Admissible(100), 4u) << "room for four openings";
  std::vector<BodyLease> bodies;
  for (uint32_t i = 0; i < 4; ++i) bodies.push_back(Body(policy, i));
  for (BodyLease& body : bodies) policy.Admit(body);
  EXPECT_EQ(budget.used(), 4 * kStep);
  EXPECT_EQ(policy.Admissible(100), 0u);
  EXPECT_FALSE(policy.MayStart());
  bodies.clear();  // their transfers ended
  EXPECT_EQ(policy.Admissible(100), 4u);
  // A budget smaller than four openings opens with a quarter of it: four transfers at a time.
  ByteBudget tiny(12 << 10);
  DownloadBudget small(&tiny, kCap);
  EXPECT_EQ(small.Admissible(5), 4u);
  std::vector<BodyLease> few;
  for (uint32_t i = 0; i < 4; ++i) few.push_back(Body(small, i));
  for (BodyLease& body : few) small.Admit(body);
  EXPECT_EQ(few[0].lease.bytes(), 3u << 10) << "the opening is a quarter of the budget";
  EXPECT_EQ(small.Admissible(5), 0u);
}

TEST(DownloadBudgetTest, AKnownLengthIsReservedWholeAtTheFirstWrite) {
  ByteBudget budget(1 << 20);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 0);
  policy.Admit(a);
  ASSERT_TRUE(policy.Reserve(a, 16384, 300000));
  EXPECT_EQ(a.lease.bytes(), 300000u);
  EXPECT_TRUE(policy.Reserve(a, 300000, 300000)) << "already held";
  EXPECT_EQ(budget.used(), 300000u);
}

// Fixed blocks, not doubling: the lease stays within one block of the bytes received, so a
// body alone past the limit holds no more than itself plus a block.
TEST(DownloadBudgetTest, AnUnknownLengthGrowsInFixedBlocksUpToTheCap) {
  ByteBudget budget(64 << 20);
  DownloadBudget policy(&budget, 1 << 20);
  BodyLease a = Body(policy, 0);
  policy.Admit(a);
  ASSERT_TRUE(policy.Reserve(a, 100, -1));
  EXPECT_EQ(a.lease.bytes(), kStep) << "the first estimate is one block";
  ASSERT_TRUE(policy.Reserve(a, kStep + 1, -1));
  EXPECT_EQ(a.lease.bytes(), 2 * kStep);
  ASSERT_TRUE(policy.Reserve(a, 2 * kStep + 1, -1));
  EXPECT_EQ(a.lease.bytes(), 3 * kStep) << "one block more, not twice as much";
  ASSERT_TRUE(policy.Reserve(a, 3 * kStep + 1, -1));
  EXPECT_EQ(a.lease.bytes(), 1u << 20) << "capped by max_image_bytes";
}

TEST(DownloadBudgetTest, BodiesOfUnknownLengthReserveWhatRecentOnesNeeded) {
  ByteBudget budget(64 << 20);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2), c = Body(policy, 3);
  policy.Admit(a);
  ASSERT_TRUE(policy.Reserve(a, 100, -1));
  policy.NoteDelivered(a, 3 << 20);
  EXPECT_EQ(policy.estimate(), 3u << 20);
  policy.Admit(b);
  ASSERT_TRUE(policy.Reserve(b, 100, -1));
  EXPECT_EQ(b.lease.bytes(), 3u << 20) << "reserved at the first write";
  policy.Admit(c);
  ASSERT_TRUE(policy.Reserve(c, 100, 5000));
  policy.NoteDelivered(c, 5000);
  EXPECT_EQ(policy.estimate(), 3u << 20) << "a body with a length teaches nothing";
  policy.NoteDelivered(b, 1000);
  EXPECT_EQ(policy.estimate(), (3u << 20) - (3u << 20) / 4) << "small ones wear it down";
}

TEST(DownloadBudgetTest, ABodyThatDoesNotFitPausesAndResumesWhenBytesComeBack) {
  ByteBudget budget(5 * kStep);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2), c = Body(policy, 3);
  for (BodyLease* body : {&a, &b, &c}) policy.Admit(*body);
  ByteLease downstream = budget.Take(kStep);  // an image waiting for the disk
  ASSERT_TRUE(policy.Reserve(a, 10, 2 * kStep));
  EXPECT_FALSE(policy.Reserve(b, 10, 2 * kStep));
  EXPECT_FALSE(policy.Reserve(c, 10, 2 * kStep));
  EXPECT_TRUE(b.paused);
  EXPECT_EQ(b.lease.bytes(), kStep) << "a refused grant keeps only the opening";
  EXPECT_EQ(policy.paused(), 2u);
  EXPECT_EQ(policy.pauses(), 2u);
  EXPECT_FALSE(policy.MayStart()) << "nothing starts while a body waits";
  BudgetGrants none = policy.TakeResumable();
  EXPECT_TRUE(none.resumed.empty() && none.stopped.empty()) << "a and the image will end";
  downstream.Reset();  // the image was written
  EXPECT_EQ(policy.TakeResumable().resumed, std::vector<uint32_t>{2}) << "b is the oldest";
  EXPECT_FALSE(b.paused);
  EXPECT_EQ(b.lease.bytes(), 2 * kStep);
  EXPECT_TRUE(c.paused);
  policy.Forget(a);
  a.lease.Reset();  // a's body was delivered and saved
  EXPECT_EQ(policy.TakeResumable().resumed, std::vector<uint32_t>{3});
  EXPECT_EQ(c.lease.bytes(), 2 * kStep);
  EXPECT_EQ(policy.paused(), 0u);
  EXPECT_EQ(policy.stopped(), 0u);
}

// A deadlock to avoid: bodies of unknown length that together need more than the budget, all
// paused. The youngest gives its bytes back (and is fetched again later) instead of one being
// granted past the limit.
TEST(DownloadBudgetTest, WhenOnlyPausedBodiesHoldTheBudgetTheYoungestIsStopped) {
  ByteBudget budget(4 * kStep);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2);
  policy.Admit(a);
  policy.Admit(b);
  ASSERT_TRUE(policy.Reserve(a, 10, -1));
  ASSERT_TRUE(policy.Reserve(b, 10, -1));
  ASSERT_TRUE(policy.Reserve(a, kStep + 1, -1));
  ASSERT_TRUE(policy.Reserve(b, kStep + 1, -1));  // 4 blocks of 4 held
  EXPECT_FALSE(policy.Reserve(a, 2 * kStep + 1, -1));
  EXPECT_FALSE(policy.Reserve(b, 2 * kStep + 1, -1));
  const BudgetGrants grants = policy.TakeResumable();
  EXPECT_EQ(grants.stopped, std::vector<uint32_t>{2}) << "b is the younger";
  EXPECT_EQ(grants.resumed, std::vector<uint32_t>{1}) << "a takes b's room";
  EXPECT_EQ(b.lease.bytes(), 0u);
  EXPECT_FALSE(b.paused);
  EXPECT_EQ(a.lease.bytes(), 3 * kStep);
  EXPECT_EQ(policy.stopped(), 1u);
  EXPECT_LE(budget.peak(), budget.limit());
  EXPECT_FALSE(policy.MayStart()) << "a needed more than there was: it goes first";
  EXPECT_TRUE(policy.Reserve(a, 3 * kStep + 1, -1)) << "the last block";
  policy.Forget(a);  // a's transfer ended
  a.lease.Reset();
  EXPECT_TRUE(policy.MayStart()) << "b may start again";
}

// One image larger than the whole budget still runs, alone: the one image by which the budget
// may be passed. Its lease grows block by block, never to twice its size.
TEST(DownloadBudgetTest, ABodyAloneGrowsPastTheLimitBlockByBlock) {
  ByteBudget budget(2 * kStep);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2);
  policy.Admit(a);
  policy.Admit(b);
  ASSERT_TRUE(policy.Reserve(a, 10, -1));
  ASSERT_TRUE(policy.Reserve(b, 10, -1));
  EXPECT_FALSE(policy.Reserve(a, kStep + 1, -1));
  EXPECT_FALSE(policy.Reserve(b, kStep + 1, -1));
  EXPECT_EQ(policy.TakeResumable().stopped, std::vector<uint32_t>{2});
  uint64_t body = kStep + 1;
  for (; body < 9 * kStep; body += kStep) ASSERT_TRUE(policy.Reserve(a, body, -1)) << body;
  EXPECT_EQ(a.lease.bytes(), 9 * kStep);
  EXPECT_EQ(budget.peak(), 9 * kStep) << "no more than the body it holds, rounded to a block";
  EXPECT_EQ(policy.Admissible(10), 0u);
}

TEST(DownloadBudgetTest, RoomGoesToTheOldestTransferFirst) {
  ByteBudget budget(6 * kStep);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2), c = Body(policy, 3);
  for (BodyLease* body : {&a, &b, &c}) policy.Admit(*body);
  ByteLease downstream = budget.Take(2 * kStep);
  EXPECT_FALSE(policy.Reserve(a, 10, 3 * kStep)) << "a needs two more blocks; one is free";
  EXPECT_FALSE(policy.Reserve(c, kStep + 1, -1)) << "c does not take a's room";
  EXPECT_TRUE(c.paused);
  downstream.Reset();
  const BudgetGrants grants = policy.TakeResumable();
  EXPECT_EQ(grants.resumed, (std::vector<uint32_t>{1, 3})) << "oldest first, then what fits";
  EXPECT_EQ(a.lease.bytes(), 3 * kStep);
  EXPECT_EQ(c.lease.bytes(), 2 * kStep);
}

TEST(DownloadBudgetTest, ATransferEndingWhilePausedLeavesTheQueue) {
  ByteBudget budget(2 * kStep);
  DownloadBudget policy(&budget, kCap);
  BodyLease a = Body(policy, 1), b = Body(policy, 2);
  policy.Admit(a);
  policy.Admit(b);
  ASSERT_TRUE(policy.Reserve(a, 10, kStep));
  EXPECT_FALSE(policy.Reserve(b, 10, 2 * kStep));
  policy.Forget(b);  // it timed out while paused
  b.lease.Reset();
  EXPECT_EQ(policy.paused(), 0u);
  EXPECT_FALSE(b.paused);
  EXPECT_TRUE(policy.MayStart()) << "room for one opening";
  a.lease.Reset();
  EXPECT_TRUE(policy.TakeResumable().resumed.empty());
}

TEST(DownloadBudgetTest, WaitTimeIsCountedWhileSomeDownloadWaits) {
  ByteBudget budget(kStep);
  DownloadBudget policy(&budget, kCap);
  policy.NoteWaiting(At(1000), false);
  policy.NoteWaiting(At(2000), true);  // held back
  policy.NoteWaiting(At(2500), true);
  policy.NoteWaiting(At(3000), false);
  EXPECT_EQ(policy.waited(At(5000)), std::chrono::milliseconds(1000));
  BodyLease a = Body(policy, 1);
  policy.Admit(a);
  ByteLease downstream = budget.Take(10);
  EXPECT_FALSE(policy.Reserve(a, 10, 2 * kStep));
  policy.NoteWaiting(At(6000), false);  // a is paused: still waiting
  EXPECT_EQ(policy.waited(At(6500)), std::chrono::milliseconds(1500));
}

TEST(DownloadBudgetTest, WithoutABudgetNothingEverPauses) {
  DownloadBudget policy(nullptr, kCap);
  BodyLease a = Body(policy, 1);
  EXPECT_EQ(policy.Admissible(1000), 1000u);
  policy.Admit(a);
  EXPECT_TRUE(policy.Reserve(a, 10, 15 << 20));
  EXPECT_TRUE(policy.Reserve(a, 18 << 20, 15 << 20));
  EXPECT_TRUE(policy.MayStart());
  EXPECT_EQ(policy.pauses(), 0u);
}

// 20 chunked bodies over a budget, in miniature, driven write by write in a shuffled order as curl
// would: 20 bodies of unknown length, each 12 blocks, under a budget of 40 blocks, delivered bodies
// held until "written" a few writes later. Every body ends complete; the budget is passed by
// no more than one image; stopped transfers start afresh without an attempt counted.
TEST(DownloadBudgetTest, ManyBodiesOfUnknownLengthNeverPassTheBudgetByMoreThanOneImage) {
  constexpr uint64_t kWrite = 16 << 10;
  constexpr uint64_t kImage = 12 * kStep - 1000;
  constexpr uint32_t kBodies = 20;
  ByteBudget budget(40 * kStep);
  DownloadBudget policy(&budget, kCap);
  std::vector<BodyLease> bodies(kBodies);
  std::vector<uint64_t> received(kBodies, 0), attempts(kBodies, 0);
  std::deque<uint32_t> waiting;  // not on the wire
  std::vector<uint32_t> on_wire;
  std::deque<std::pair<int, ByteLease>> writing;  // delivered: (writes left, lease)
  for (uint32_t i = 0; i < kBodies; ++i) {
    bodies[i] = Body(policy, i);
    waiting.push_back(i);
  }
  std::mt19937 rng(5);
  uint32_t done = 0;
  for (int tick = 0; done < kBodies && tick < 1'000'000; ++tick) {
    for (size_t n = policy.Admissible(waiting.size()); n > 0; --n) {
      const uint32_t i = waiting.front();
      waiting.pop_front();
      policy.Admit(bodies[i]);
      received[i] = 0;
      ++attempts[i];
      on_wire.push_back(i);
    }
    const BudgetGrants grants = policy.TakeResumable();
    for (uint32_t i : grants.stopped) {
      --attempts[i];  // the downloader's Requeue: no attempt counted
      on_wire.erase(std::find(on_wire.begin(), on_wire.end(), i));
      waiting.push_back(i);
    }
    if (!writing.empty() && --writing.front().first <= 0) writing.pop_front();
    std::vector<uint32_t> running;
    for (uint32_t i : on_wire) {
      if (!bodies[i].paused) running.push_back(i);
    }
    if (running.empty()) continue;
    const uint32_t i = running[rng() % running.size()];
    const uint64_t n = std::min(kWrite, kImage - received[i]);
    if (received[i] + n > bodies[i].lease.bytes() || !bodies[i].sized) {
      if (!policy.Reserve(bodies[i], received[i] + n, -1)) continue;  // paused
    }
    received[i] += n;
    if (received[i] == kImage) {
      policy.Forget(bodies[i]);
      policy.NoteDelivered(bodies[i], kImage);
      bodies[i].lease.Shrink(kImage);
      writing.emplace_back(50, std::move(bodies[i].lease));
      bodies[i].lease = ByteLease(&budget);
      on_wire.erase(std::find(on_wire.begin(), on_wire.end(), i));
      ++done;
    }
  }
  ASSERT_EQ(done, kBodies) << "every body completes";
  EXPECT_GT(policy.stopped(), 0u) << "the first wave overcommits: the youngest were stopped";
  EXPECT_LE(budget.peak(), budget.limit() + kImage);
  for (uint32_t i = 0; i < kBodies; ++i) EXPECT_EQ(attempts[i], 1u) << i;
}

}  // namespace
}  // namespace pixelmill
