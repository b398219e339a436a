// The verdict: which stage bound a run, from constructed results (slow network, slow filter,
// slow disk, small budget, matched stages) and from real runs (a slow filter on one worker is
// cpu-bound; 300 ms downloads with --filter none are network-bound; a slow sink under a tiny
// --max-memory is disk-bound), and the summary table.
#include "coordinator/report/verdict.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/report/report.h"
#include "coordinator/run/coordinator.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

using testing::ExitCode;
using testing::JsonAt;
using testing::JsonDouble;

// A 100 s run of 1,000 users on 4 workers, downloads of 50 ms, where no stage waited.
PipelineResult Quiet() {
  PipelineResult run;
  run.exit_code = kExitOk;
  run.output_opened = true;
  run.ok = 1000;
  run.wall_seconds = 100;
  run.workers = 4;
  for (int i = 0; i < 1000; ++i) {
    run.downloads.latency_us.Record(50'000);
    run.filter_cpu_us.Record(20'000);  // 20 s of CPU over 400 worker-seconds: 5 %
    run.end_to_end_us.Record(80'000);
  }
  run.downloads.ok = 1000;
  run.downloads.requests = 1000;
  run.downloads.bytes = 12'345'678;
  return run;
}

TEST(VerdictTest, SlowNetworkIsNetworkBound) {
  PipelineResult run = Quiet();
  run.waits.images_waiting_s = 3;  // a little, at the start
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kNetwork);
  EXPECT_STREQ(BoundName(v.bound), "network");
  EXPECT_NE(v.evidence.find("workers' CPU busy 5%"), std::string::npos) << v.evidence;
  EXPECT_NE(v.evidence.find("download p50 50 ms"), std::string::npos) << v.evidence;
  EXPECT_NE(v.evidence.find("--concurrency"), std::string::npos) << v.evidence;
}

// A worker's figures: `jobs` jobs of `cpu_ms` CPU, each `trip_ms` from sent to result.
WorkerFigures Figures(const std::string& name, bool remote, uint64_t jobs, int cpu_ms,
                      int trip_ms) {
  WorkerFigures w;
  w.worker = name;
  w.host = "host-" + name;
  w.remote = remote;
  w.jobs_ok = jobs;
  w.cpu_micros = jobs * static_cast<uint64_t>(cpu_ms) * 1000;
  w.round_trips = std::chrono::milliseconds(trip_ms) * jobs;
  return w;
}

// A remote worker behind a slow link (its jobs took far longer beyond their CPU than the
// others') is named whatever bound the run; a slow local one, or one with few jobs, is not.
TEST(VerdictTest, ARemoteWorkerBehindASlowLinkIsNamed) {
  PipelineResult run = Quiet();
  run.dispatch.by_worker = {Figures("a", true, 100, 20, 45), Figures("b", true, 100, 20, 50),
                            Figures("slow", true, 100, 20, 400)};
  Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kNetwork) << "the stages' verdict is kept";
  EXPECT_NE(v.evidence.find("worker slow on host-slow took 0.400 s a job for 0.020 s of CPU"),
            std::string::npos)
      << v.evidence;
  EXPECT_NE(v.evidence.find("a slow link to its host"), std::string::npos) << v.evidence;
  EXPECT_EQ(v.evidence.rfind(JudgeStages(run).evidence, 0), 0u) << "the note follows the stages'";

  run.dispatch.by_worker[2].remote = false;
  EXPECT_EQ(Judge(run).evidence.find("slow link"), std::string::npos) << "a local worker";
  run.dispatch.by_worker[2] = Figures("slow", true, 3, 20, 400);
  EXPECT_EQ(Judge(run).evidence.find("slow link"), std::string::npos) << "3 jobs tell nothing";
  run.dispatch.by_worker[2] = Figures("slow", true, 100, 20, 60);
  EXPECT_EQ(Judge(run).evidence.find("slow link"), std::string::npos) << "within 3x and 50 ms";
}

TEST(VerdictTest, NoWorkersAndNoWaitsIsNetworkBound) {
  PipelineResult run = Quiet();
  run.workers = 0;
  run.filter_cpu_us = Histogram();
  EXPECT_EQ(Judge(run).bound, Bound::kNetwork);
  EXPECT_EQ(WorkerUtilisation(run), 0);
}

// A run whose downloads mostly fail is not helped by more concurrency: the verdict says so.
TEST(VerdictTest, FailingDownloadsAreNamedInsteadOfAdvisingConcurrency) {
  PipelineResult run = Quiet();
  run.downloads.ok = 10;
  run.downloads.failed = 990;
  run.failed_by_code = {{Code::kConnect, 900}, {Code::kHttpStatus, 90}};
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kNetwork);
  EXPECT_NE(v.evidence.find("990 of 1000 downloads failed (most: connect, 900)"), std::string::npos)
      << v.evidence;
  EXPECT_EQ(v.evidence.find("--concurrency"), std::string::npos) << v.evidence;
}

// Results waiting for a slow disk fill the budget, so downloads wait for memory as long, give or
// take the clocks: the disk is the cause, whichever of the two came out longer.
TEST(VerdictTest, AMemoryWaitAsLongAsTheDiskWaitIsTheDisksDoing) {
  PipelineResult run = Quiet();
  run.waits.results_waiting_s = 60;
  run.waits.downloads_waiting_s = 60.001;
  EXPECT_EQ(Judge(run).bound, Bound::kDisk) << Judge(run).evidence;
  run.waits.results_waiting_s = 10;  // a sixth of it: the budget itself is short
  EXPECT_EQ(Judge(run).bound, Bound::kMemory) << Judge(run).evidence;
}

// 300 s of filter CPU over 400 worker-seconds: 75 % busy.
void BusyWorkers(PipelineResult& run) {
  run.filter_cpu_us = Histogram();
  run.filter_cpu_us.Record(300'000, 1000);
}

TEST(VerdictTest, SlowFilterIsCpuBound) {
  PipelineResult run = Quiet();
  BusyWorkers(run);
  run.waits.images_waiting_s = 90;
  // Images waiting filled the budget too: the cause is still the filter.
  run.waits.downloads_waiting_s = 60;
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kCpu);
  EXPECT_NE(v.evidence.find("images waited for a worker 90% of the run (90.0 of 100.0 s)"),
            std::string::npos)
      << v.evidence;
  EXPECT_NE(v.evidence.find("add workers"), std::string::npos) << v.evidence;
}

TEST(VerdictTest, SlowDiskIsDiskBound) {
  PipelineResult run = Quiet();
  run.waits.results_waiting_s = 70;
  run.downloads.budget_wait_seconds = 50;
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kDisk);
  EXPECT_NE(v.evidence.find("results waited for the disk 70%"), std::string::npos) << v.evidence;
}

TEST(VerdictTest, BudgetWaitsAloneAreMemoryBound) {
  PipelineResult run = Quiet();
  run.downloads.budget_wait_seconds = 40;
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kMemory);
  EXPECT_NE(v.evidence.find("--max-memory"), std::string::npos) << v.evidence;
}

TEST(VerdictTest, BusyWorkersWithNothingWaitingAreBalanced) {
  PipelineResult run = Quiet();
  run.filter_cpu_us = Histogram();
  run.filter_cpu_us.Record(300'000, 1000);  // 300 s of 400 worker-seconds
  EXPECT_DOUBLE_EQ(WorkerUtilisation(run), 0.75);
  EXPECT_EQ(Judge(run).bound, Bound::kBalanced);
}

// Every download refused as a private address: the cure is a flag, not the image server.
TEST(VerdictTest, BlockedAddressesNameTheFlagThatAllowsThem) {
  PipelineResult run = Quiet();
  run.ok = 0;
  run.failed = 1000;
  run.downloads.ok = 0;
  run.downloads.failed = 1000;
  run.downloads.latency_us = Histogram();
  run.failed_by_code = {{Code::kBlockedAddress, 1000}};
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kNetwork);
  EXPECT_NE(v.evidence.find("(most: blocked_address, 1000)"), std::string::npos) << v.evidence;
  EXPECT_NE(v.evidence.find("pass --allow-private-networks"), std::string::npos) << v.evidence;
  EXPECT_EQ(v.evidence.find("check the image server"), std::string::npos) << v.evidence;
}

// Images waited for workers whose CPUs were 21 % busy: "add workers" was the wrong advice.
TEST(VerdictTest, WaitingForIdleWorkersIsNotCpuBound) {
  PipelineResult run = Quiet();
  run.ok = 100;
  run.wall_seconds = 10;
  run.filter_cpu_us = Histogram();
  run.filter_cpu_us.Record(84'000, 100);  // 8.4 s over 40 worker-seconds: 21 %
  run.waits.images_waiting_s = 6;
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kWorkers) << v.evidence;
  EXPECT_STREQ(BoundName(v.bound), "workers");
  EXPECT_NE(v.evidence.find("workers' CPU busy 21%"), std::string::npos) << v.evidence;
  EXPECT_EQ(v.evidence.find("add workers"), std::string::npos) << v.evidence;
  EXPECT_NE(v.evidence.find("starting up"), std::string::npos) << v.evidence;
}

// One URL hung until its timeout: the run lasted as long as it did, whatever the concurrency.
TEST(VerdictTest, OneHungUrlIsNamedInsteadOfAdvisingConcurrency) {
  PipelineResult run = Quiet();
  run.wall_seconds = 31;
  run.failed = 1;
  run.downloads.failed = 1;
  run.failed_by_code = {{Code::kTimeout, 1}};
  run.end_to_end_us.Record(30'000'000);  // the hung one, 30 s
  const Verdict v = Judge(run);
  EXPECT_EQ(v.bound, Bound::kNetwork);
  EXPECT_NE(v.evidence.find("the slowest user took 30.0 s of the 31.0 s run"), std::string::npos)
      << v.evidence;
  EXPECT_NE(v.evidence.find("--timeout"), std::string::npos) << v.evidence;
  EXPECT_EQ(v.evidence.find("--concurrency"), std::string::npos) << v.evidence;
}

TEST(VerdictTest, ARunTooShortOrTooSmallIsInconclusive) {
  PipelineResult brief = Quiet();
  brief.wall_seconds = 0.4;
  brief.waits.images_waiting_s = 0.3;
  Verdict v = Judge(brief);
  EXPECT_EQ(v.bound, Bound::kInconclusive) << v.evidence;
  EXPECT_STREQ(BoundName(v.bound), "inconclusive");
  EXPECT_NE(v.evidence.find("too short to judge (0.40 s, 1000 user(s)"), std::string::npos)
      << v.evidence;
  PipelineResult few = Quiet();
  few.ok = 5;
  EXPECT_EQ(Judge(few).bound, Bound::kInconclusive);
  EXPECT_NE(SummaryTable(few).find("verdict      inconclusive: the run was too short"),
            std::string::npos)
      << SummaryTable(few);
  few.ok = kMinJudgedUsers;
  EXPECT_EQ(Judge(few).bound, Bound::kNetwork) << Judge(few).evidence;
}

TEST(VerdictTest, ARunWithNoUserHasNothingToJudge) {
  const Verdict v = Judge(PipelineResult{});
  EXPECT_EQ(v.bound, Bound::kBalanced);
  EXPECT_NE(v.evidence.find("no user"), std::string::npos) << v.evidence;
}

TEST(VerdictTest, TheTableHoldsEveryFigure) {
  PipelineResult run = Quiet();
  BusyWorkers(run);
  run.ok = 990;
  run.failed = 10;
  run.failed_by_code = {{Code::kHttpStatus, 7}, {Code::kTimeout, 3}};
  run.waits.images_waiting_s = 90;
  run.waits.results_waiting_s = 1.5;
  ReplayStats replay;
  replay.skipped = 5;
  const std::string table = SummaryTable(run, replay);
  for (const char* expected : {
           "users        995 ok (5 skipped), 10 failed (http_status 7, timeout 3)\n",
           "wall         100.00 s, 10.0 users/s\n",
           "download     p50 0.050 s, p90 0.050 s, p99 0.050 s; 12.3 MB in 1000 requests\n",
           "filter CPU   p50 0.300 s, p90 0.300 s, p99 0.300 s a user\n",
           "end to end   p50 0.080 s, p90 0.080 s, p99 0.080 s (admission to line)\n",
           "  slot wait  p50 0.000 s, p90 0.000 s, p99 0.000 s (admitted, waiting for a "
           "connection)\n",
           "workers      4, CPU busy 75%\n",
           "stage waits  images for a worker 90.0 s, results for the disk 1.5 s, downloads for "
           "memory 0.0 s\n",
           "verdict      cpu-bound: images waited for a worker 90% of the run",
       }) {
    EXPECT_NE(table.find(expected), std::string::npos) << expected << "\nin:\n" << table;
  }
}

TEST(VerdictTest, TheReportHoldsTheNewKeys) {
  PipelineResult run = Quiet();
  BusyWorkers(run);
  run.failed = 2;
  run.failed_by_code = {{Code::kTimeout, 2}};
  run.waits.images_waiting_s = 90;
  const std::string report = BuildReport(LoadStats{}, run);
  EXPECT_EQ(JsonAt(report, "/failed_by_code"), R"({"timeout":2})") << report;
  EXPECT_DOUBLE_EQ(JsonDouble(report, "/users_per_second"), 10.02) << report;
  EXPECT_DOUBLE_EQ(JsonDouble(report, "/download/p90_ms"), 50) << report;
  EXPECT_DOUBLE_EQ(JsonDouble(report, "/download/p99_ms"), 50) << report;
  for (const auto& [section, seconds] :
       std::vector<std::pair<std::string, double>>{{"/filter_cpu", 0.3}, {"/end_to_end", 0.08}}) {
    EXPECT_EQ(JsonAt(report, section + "/count"), "1000") << section << " in " << report;
    for (const char* key : {"/p50_s", "/p90_s", "/p99_s"}) {
      EXPECT_DOUBLE_EQ(JsonDouble(report, section + key), seconds) << section << key;
    }
    for (const char* key : {"/p50_ms", "/p99_ms"}) {
      EXPECT_DOUBLE_EQ(JsonDouble(report, section + key), seconds * 1000) << section << key;
    }
  }
  EXPECT_DOUBLE_EQ(JsonDouble(report, "/worker_utilisation"), 0.75) << report;
  EXPECT_EQ(JsonAt(report, "/verdict/bound"), "cpu") << report;
  EXPECT_EQ(JsonAt(report, "/verdict/evidence").rfind("images waited for a worker 90%", 0), 0u)
      << report;
}

class VerdictRunTest : public testing::CoordinatorRun {};

// One worker, a 200 ms filter that sleeps, instant downloads: images queue for the worker,
// whose CPU is idle (a CPU-bound filter: SlowFilterIsCpuBound).
TEST_F(VerdictRunTest, ASlowFilterOnOneWorkerIsWorkersBound) {
  Users(15);
  auto run = Start({"--filter", "sleep:200", "--workers", "1"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_EQ(JsonAt(Report(), "/verdict/bound"), "workers") << Report();
  EXPECT_NE(Stderr().find("verdict      workers-bound: images waited for a worker"),
            std::string::npos)
      << Stderr();
  EXPECT_NE(Stderr().find("done: 15 users, 15 ok"), std::string::npos) << Stderr();
}

// 300 ms a download, 10 at once, nothing to filter: the downloads are all there is.
TEST_F(VerdictRunTest, SlowDownloadsWithNoFilterAreNetworkBound) {
  Users(40, [](int) { return std::string("?latency=300"); });
  auto run = Start({"--filter", "none", "--concurrency", "10"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_EQ(JsonAt(Report(), "/verdict/bound"), "network") << Report();
  EXPECT_NE(Stderr().find("verdict      network-bound: "), std::string::npos) << Stderr();
}

// --sequential's report had an empty failed_by_code and a verdict "(most: ?, 0)".
TEST_F(VerdictRunTest, TheSequentialReportCountsFailuresByCode) {
  Users(12, [](int id) { return id < 8 ? std::string("?status=404") : std::string(); });
  auto run = Start({"--sequential", "--retries", "0"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 3) << Stderr();
  EXPECT_EQ(JsonAt(Report(), "/failed_by_code"), R"({"http_status":8})") << Report();
  EXPECT_NE(Stderr().find("4 ok, 8 failed (http_status 8)"), std::string::npos) << Stderr();
  EXPECT_EQ(Report().find("most: ?"), std::string::npos) << Report();
}

// Keeps the end-of-run summary (the table with its verdict line); drops the rest.
class SummaryKeeper final : public Observer {
 public:
  void OnEvent(LogLevel, const std::string&) override {}
  void OnProgress(const ProgressSample&) override {}
  void OnSummary(const std::string& text) override { summary += text; }
  std::string summary;
};

// A slow disk: the sink's test-only hook (Options::commit_delay_ms_for_tests, no flag) finishes
// each batch of image writes 300 ms late, on a loop timer. --filter none, 20 ms downloads, and a
// 6 KiB byte budget (about 6 of the fixture's ~1 KB images) that the results waiting for the
// disk hold, so downloads wait for memory nearly as long: the disk must still be named, as the
// cause. (The two waits end together when the last file goes straight to a free writer; the
// 20 ms downloads make the last ones queue for the disk a batch longer, see the report.)
// In-process (RunCoordinator with Options) since the hook is no flag.
TEST_F(VerdictRunTest, ASlowSinkUnderATinyBudgetIsDiskBound) {
  Options options;
  options.input = Users(20, [](int) { return std::string("?latency=20"); });
  options.output_dir = (dir_ / "out").string();
  options.report_path = (dir_ / "report.json").string();
  options.download.allow_private_networks = true;
  options.max_memory = 6 << 10;
  options.commit_delay_ms_for_tests = 300;
  SummaryKeeper observer;
  LoadedUsers users;
  ASSERT_EQ(RunCoordinator(options, users, observer).exit_code, kExitOk) << observer.summary;
  EXPECT_EQ(ManifestLines(), 20u);
  EXPECT_EQ(JsonAt(Report(), "/verdict/bound"), "disk") << Report();
  EXPECT_EQ(JsonAt(Report(), "/verdict/evidence").rfind("results waited for the disk", 0), 0u)
      << Report();
  EXPECT_NE(observer.summary.find("verdict      disk-bound: results waited for the disk"),
            std::string::npos)
      << observer.summary;
  // The tiny budget did make downloads wait: the disk won over a real memory wait.
  EXPECT_GT(JsonDouble(Report(), "/waits/download_budget_wait_s"), 0) << Report();
}

}  // namespace
}  // namespace pixelmill
