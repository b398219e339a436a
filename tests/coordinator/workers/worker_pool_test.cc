#include "coordinator/workers/worker_pool.h"

#include "common/base/byte_budget.h"

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

WorkerInfo Worker(const std::string& identity, uint32_t capacity, uint32_t pid = 0) {
  WorkerInfo w;
  w.identity = identity;
  w.worker_id = "id-" + identity;
  w.host = "h";
  w.pid = pid;
  w.capacity = capacity;
  return w;
}

// A point `s` seconds into a run.
TimePoint AtSecond(int s) { return TimePoint(std::chrono::seconds(s)); }

ImageBytes Image(const std::string& s) {
  return std::make_shared<const ImageBuffer>(ImageBuffer::FromString(s));
}

TEST(WorkerPoolTest, CreditsBoundWhatEachWorkerHolds) {
  WorkerPool pool(3);
  WorkerInfo& a = pool.Add(Worker("a", 2));
  for (int user = 0; user < 5; ++user) pool.Submit(user, 1000 + user, Image("x"));
  EXPECT_TRUE(pool.AssignNext(a).has_value());
  EXPECT_TRUE(pool.AssignNext(a).has_value());
  EXPECT_FALSE(pool.AssignNext(a).has_value()) << "no credit left";
  EXPECT_EQ(pool.in_flight(), 2u);
  EXPECT_EQ(pool.queued(), 3u);
  EXPECT_EQ(pool.PickLeastLoaded(), nullptr);
}

TEST(WorkerPoolTest, PicksTheWorkerWithMostCredit) {
  WorkerPool pool(3);
  pool.Add(Worker("a", 2));
  pool.Add(Worker("b", 4));
  pool.Submit(0, 1000 + 0, Image("x"));
  EXPECT_EQ(pool.PickLeastLoaded()->identity, "b");
  pool.AssignNext(*pool.Find("b"));
  pool.AssignNext(*pool.Find("b"));
  pool.Submit(1, 1000 + 1, Image("x"));
  pool.AssignNext(*pool.Find("b"));
  // b has 1 credit left, a has 2.
  EXPECT_EQ(pool.PickLeastLoaded()->identity, "a");
}

TEST(WorkerPoolTest, ResultsReturnCreditAndDuplicatesAreDropped) {
  WorkerPool pool(3);
  WorkerInfo& a = pool.Add(Worker("a", 1));
  pool.Add(Worker("b", 1));
  pool.Submit(7, 1000 + 7, Image("img"));
  const uint64_t job = *pool.AssignNext(a);
  EXPECT_FALSE(pool.Complete("b", job).has_value()) << "b never held it";
  std::optional<JobRecord> done = pool.Complete("a", job);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->user, 7u);
  EXPECT_EQ(done->image->view(), "img");
  EXPECT_EQ(pool.Find("a")->credits, 1u);
  EXPECT_FALSE(pool.Complete("a", job).has_value()) << "late duplicate";
  EXPECT_EQ(pool.duplicates(), 2u);
}

TEST(WorkerPoolTest, DeadWorkerJobsAreRequeuedWithTheNextAttemptOthersUntouched) {
  WorkerPool pool(3);
  WorkerInfo& a = pool.Add(Worker("a", 2));
  WorkerInfo& b = pool.Add(Worker("b", 2));
  for (int user = 0; user < 4; ++user) pool.Submit(user, 1000 + user, Image("x"));
  const uint64_t a1 = *pool.AssignNext(a), a2 = *pool.AssignNext(a);
  const uint64_t b1 = *pool.AssignNext(b);
  (void)a1, (void)a2;
  EXPECT_TRUE(pool.Remove("a").empty());
  EXPECT_EQ(pool.workers(), 1u);
  EXPECT_EQ(pool.requeued(), 2u);
  EXPECT_EQ(pool.queued(), 3u);  // users 0 and 1 back in front of user 3
  ASSERT_NE(pool.job(b1), nullptr) << "b's job is not blamed";
  EXPECT_EQ(pool.job(b1)->attempt, 1u);
  std::vector<JobRecord> queue = pool.DrainQueue();
  ASSERT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue[0].user, 0u);
  EXPECT_EQ(queue[0].attempt, 2u);
  EXPECT_EQ(queue[1].user, 1u);
  EXPECT_EQ(queue[2].user, 3u);
  EXPECT_EQ(queue[2].attempt, 1u);
}

// A worker died holding a poison job and an innocent one: each then runs alone, so the innocent
// one is not blamed again with the poison (it had been failing worker_died beside it).
TEST(WorkerPoolTest, JobsOfAWorkerThatDiedHoldingSeveralRunAlone) {
  WorkerPool pool(3);
  WorkerInfo& a = pool.Add(Worker("a", 2));
  pool.Submit(0, 1000, Image("poison"));
  pool.Submit(1, 1001, Image("innocent"));
  pool.Submit(2, 1002, Image("later"));
  ASSERT_TRUE(pool.AssignNext(a).has_value());
  ASSERT_TRUE(pool.AssignNext(a).has_value());
  EXPECT_TRUE(pool.Remove("a").empty());
  ASSERT_TRUE(pool.NextQueued()->alone);
  WorkerInfo& b = pool.Add(Worker("b", 2));
  WorkerInfo& c = pool.Add(Worker("c", 2));
  WorkerInfo* first = pool.PickLeastLoaded(pool.NextQueued()->avoid, pool.NextQueued()->alone);
  ASSERT_NE(first, nullptr);
  const std::string first_id = first->identity;
  ASSERT_TRUE(pool.AssignNext(*first).has_value());
  WorkerInfo* second = pool.PickLeastLoaded(pool.NextQueued()->avoid, pool.NextQueued()->alone);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second->identity, first_id) << "two suspects on one worker";
  ASSERT_TRUE(pool.AssignNext(*second).has_value());
  // Both workers hold a job alone: the next (ordinary) job waits for one of them to finish.
  EXPECT_FALSE(pool.NextQueued()->alone);
  EXPECT_EQ(pool.PickLeastLoaded(), nullptr);
  const uint64_t held = *b.jobs.begin();
  ASSERT_TRUE(pool.Complete("b", held).has_value());
  EXPECT_EQ(pool.PickLeastLoaded(), &b);
  EXPECT_NE(c.alone_job, 0u);
}

TEST(WorkerPoolTest, GivesUpAfterMaxAttempts) {
  WorkerPool pool(2);
  pool.Submit(9, 1000 + 9, Image("x"));
  pool.AssignNext(pool.Add(Worker("a", 1)));
  EXPECT_TRUE(pool.Remove("a").empty());  // attempt 1 -> requeued as attempt 2
  pool.AssignNext(pool.Add(Worker("b", 1)));
  std::vector<JobRecord> given_up = pool.Remove("b");
  ASSERT_EQ(given_up.size(), 1u);
  EXPECT_EQ(given_up[0].user, 9u);
  EXPECT_EQ(given_up[0].attempt, 2u);
  EXPECT_EQ(pool.queued(), 0u);
  EXPECT_EQ(pool.in_flight(), 0u);
}

TEST(WorkerPoolTest, SilenceAndPidLookups) {
  WorkerPool pool(3);
  WorkerInfo local = Worker("a", 1, 100);
  local.local_pid = 100;
  pool.Add(std::move(local)).last_heard = AtSecond(5);
  pool.Add(Worker("b", 1, 200)).last_heard =
      AtSecond(9);  // a TCP peer: it only says its pid is 200
  EXPECT_EQ(pool.SilentSince(AtSecond(6)), std::vector<std::string>{"a"});
  EXPECT_EQ(pool.FindLocal(100), std::optional<std::string>("a"));
  EXPECT_FALSE(pool.FindLocal(200).has_value()) << "a stated pid is never looked up";
  EXPECT_FALSE(pool.FindLocal(0).has_value());
  pool.Unassign(12345);  // unknown job: no effect
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(WorkerPoolTest, AFailedAttemptIsRetriedOnAnotherWorkerThenGivenUp) {
  WorkerPool pool(2);
  WorkerInfo& a = pool.Add(Worker("a", 4));
  pool.Add(Worker("b", 1));
  pool.Submit(0, 1000 + 0, Image("x"));
  const uint64_t first = *pool.AssignNext(a, AtSecond(1));
  std::optional<JobRecord> job = pool.Complete("a", first);
  ASSERT_TRUE(job.has_value());
  EXPECT_FALSE(pool.Retry(std::move(*job), "a").has_value()) << "requeued, attempt 2";
  EXPECT_EQ(pool.NextQueued()->attempt, 2u);
  // a has more credit, but failed this job: b takes it; while b is busy, the job waits.
  EXPECT_EQ(pool.PickLeastLoaded(pool.NextQueued()->avoid)->identity, "b");
  WorkerInfo& b = *pool.Find("b");
  const uint64_t second = *pool.AssignNext(b, AtSecond(2));
  pool.Submit(1, 1000 + 1, Image("y"));
  pool.Unassign(*pool.AssignNext(a, AtSecond(2)));  // (the next job could go to a)
  job = pool.Complete("b", second);
  ASSERT_TRUE(job.has_value());
  std::optional<JobRecord> given_up = pool.Retry(std::move(*job), "b");
  ASSERT_TRUE(given_up.has_value()) << "max attempts reached";
  EXPECT_EQ(given_up->user, 0u);
  EXPECT_EQ(pool.requeued(), 1u);
}

TEST(WorkerPoolTest, TheAvoidedWorkerIsUsedWhenItIsTheOnlyOne) {
  WorkerPool pool(3);
  pool.Add(Worker("a", 1));
  EXPECT_EQ(pool.PickLeastLoaded("a")->identity, "a");
  pool.Add(Worker("b", 1));
  pool.AssignNext(*pool.Find("b"));  // no job queued: nothing assigned, b keeps its credit
  EXPECT_EQ(pool.PickLeastLoaded("a")->identity, "b");
}

TEST(WorkerPoolTest, HoldingSinceFindsWorkersWithOverdueJobs) {
  WorkerPool pool(3);
  WorkerInfo& a = pool.Add(Worker("a", 2));
  WorkerInfo& b = pool.Add(Worker("b", 2));
  for (int user = 0; user < 3; ++user) pool.Submit(user, 1000 + user, Image("x"));
  pool.AssignNext(a, AtSecond(10));
  pool.AssignNext(b, AtSecond(20));
  pool.AssignNext(b, AtSecond(30));
  EXPECT_TRUE(pool.HoldingSince(AtSecond(5)).empty());
  EXPECT_EQ(pool.HoldingSince(AtSecond(15)), std::vector<std::string>{"a"});
  EXPECT_EQ(pool.HoldingSince(AtSecond(25)), (std::vector<std::string>{"a", "b"}));
}

// A job holds its result estimate only while a worker holds it: a requeue (worker death, a
// failed attempt, an unsendable job) or a give-up returns it; a completed job carries it out.
TEST(WorkerPoolTest, ResultEstimatesAreHeldOnlyWhileAWorkerHoldsTheJob) {
  ByteBudget budget(1 << 20);
  WorkerPool pool(2);
  pool.Add(Worker("a", 3));
  for (int user = 0; user < 3; ++user) pool.Submit(user, 1000 + user, Image("x"));
  const uint64_t j0 = *pool.AssignNext(*pool.Find("a"), {}, budget.Take(100));
  const uint64_t j1 = *pool.AssignNext(*pool.Find("a"), {}, budget.Take(10));
  const uint64_t j2 = *pool.AssignNext(*pool.Find("a"), {}, budget.Take(1));
  EXPECT_EQ(budget.used(), 111u);
  pool.Unassign(j2);
  EXPECT_EQ(budget.used(), 110u) << "unsendable: back in the queue without its estimate";
  std::optional<JobRecord> done = pool.Complete("a", j1);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->result_estimate.bytes(), 10u) << "the caller swaps it for the real result";
  done.reset();
  EXPECT_EQ(budget.used(), 100u);
  std::optional<JobRecord> failed = pool.Complete("a", j0);
  ASSERT_TRUE(failed.has_value());
  EXPECT_FALSE(pool.Retry(std::move(*failed), "a").has_value());
  EXPECT_EQ(budget.used(), 0u) << "a failed attempt requeued: estimate returned";
  pool.Add(Worker("b", 2));
  pool.AssignNext(*pool.Find("b"), {}, budget.Take(50));  // attempt 2 of user 0
  pool.AssignNext(*pool.Find("b"), {}, budget.Take(60));  // user 2
  EXPECT_EQ(budget.used(), 110u);
  std::vector<JobRecord> given_up = pool.Remove("b");
  ASSERT_EQ(given_up.size(), 1u) << "user 0 reached max attempts";
  EXPECT_EQ(given_up[0].result_estimate.bytes(), 0u);
  EXPECT_EQ(budget.used(), 0u) << "a dead worker's jobs hold no estimate";
}

// A leaving worker's returned jobs go back at the head with the same attempt; it gets no new
// job; a job id it does not hold is not its to return.
TEST(WorkerPoolTest, ALeavingWorkerReturnsOnlyItsOwnJobsAndGetsNoMore) {
  WorkerPool pool(3);
  WorkerInfo& a = pool.Add(Worker("a", 2));
  WorkerInfo& b = pool.Add(Worker("b", 1));
  for (int user = 0; user < 4; ++user) pool.Submit(user, 1000 + user, Image("x"));
  const uint64_t first = *pool.AssignNext(a);
  const uint64_t second = *pool.AssignNext(a);
  const uint64_t bs = *pool.AssignNext(b);
  a.leaving = true;
  EXPECT_FALSE(pool.Return("a", bs)) << "b's job";
  EXPECT_FALSE(pool.Return("a", 999)) << "no such job";
  EXPECT_TRUE(pool.Return("a", second));
  EXPECT_FALSE(pool.Return("a", second)) << "returned twice";
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_EQ(pool.NextQueued()->user, 1u);
  EXPECT_EQ(pool.NextQueued()->attempt, 1u) << "a returned job is not a failed attempt";
  EXPECT_EQ(pool.PickLeastLoaded(), nullptr) << "a has credit but is leaving; b is full";
  EXPECT_TRUE(pool.Complete("a", first).has_value()) << "a still answers what it runs";
}

}  // namespace
}  // namespace pixelmill
