// Standing worker hosts, with real coordinator and worker processes over loopback TCP: a warm
// shutdown on SIGTERM (queued jobs returned without an attempt, running ones finished), a
// second signal stopping at once, --keep-running across two runs, and --processes supervising
// (a killed process restarted, a SIGTERM passed on as a warm shutdown). Each run ends with one
// ok line per user.
#include <signal.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "tests/support/child_process.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

using testing::ChildProcess;
using testing::ExitCode;
using testing::JsonAt;
using testing::JsonInt;
using testing::ReadFile;
using testing::WaitFor;

class StandingWorkerTest : public testing::CoordinatorRun {
 protected:
  // A coordinator with no local workers, plain TCP on loopback at `bind`.
  std::unique_ptr<ChildProcess> Remote(const std::string& filter,
                                       const std::string& bind = "tcp://127.0.0.1:*",
                                       std::vector<std::string> more = {}) {
    std::vector<std::string> flags = {"--filter", filter, "--workers",      "0",  "--insecure",
                                      "--bind",   bind,   "--heartbeat-ms", "200"};
    flags.insert(flags.end(), more.begin(), more.end());
    return Start(flags);
  }
  std::string Log(const std::string& name) const { return ReadFile(dir_ / (name + ".err")); }
  bool Has(const std::string& text, const std::string& part) const {
    return text.find(part) != std::string::npos;
  }
  // Every user has one ok line (Manifest() fails on a second line).
  void ExpectAllOk(size_t users) {
    std::map<int64_t, std::string> lines = Manifest();
    ASSERT_EQ(lines.size(), users);
    for (const auto& [id, line] : lines) EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
  }
  // A port free now, for two coordinators in a row at the same endpoint.
  static std::string FreeEndpoint() {
    zmq::context_t context;
    zmq::socket_t probe(context, zmq::socket_type::router);
    probe.bind("tcp://127.0.0.1:*");
    return probe.get(zmq::sockopt::last_endpoint);
  }
};

// SIGTERM: the worker returns its queued jobs at once (no attempt counted), finishes the one it
// runs, says it left, and exits 0; the coordinator logs it at info, not as a lost worker, and
// the report names each worker with what it did.
TEST_F(StandingWorkerTest, SigtermIsAWarmShutdownThatLosesNothing) {
  Users(20);
  auto run = Remote("sleep:200");
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto a = StartWorker(endpoint, "a", {"--capacity", "4", "--grace", "30"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 2; }, 20)) << Stderr();
  ASSERT_EQ(::kill(a->pid(), SIGTERM), 0);
  EXPECT_EQ(ExitCode(a->Wait(10)), 0) << Log("a");
  EXPECT_TRUE(Has(Log("a"), "leaving (signal): returned ")) << Log("a");
  EXPECT_TRUE(Has(Log("a"), "left the coordinator")) << Log("a");
  auto b = StartWorker(endpoint, "b", {"--capacity", "4"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  ASSERT_NO_FATAL_FAILURE(ExpectAllOk(20));
  for (const auto& [id, line] : Manifest()) {
    // One download, one dispatch: a returned job is not a failed attempt.
    EXPECT_EQ(JsonAt(line, "/attempts"), "2") << line;
  }
  EXPECT_TRUE(Has(Stderr(), " is leaving (stopping (SIGTERM)): ")) << Stderr();
  EXPECT_FALSE(Has(Stderr(), "lost worker")) << Stderr();
  const std::string report = Report();
  EXPECT_EQ(JsonInt(report, "/workers/left"), 1) << report;
  EXPECT_EQ(JsonInt(report, "/workers/lost"), 0) << report;
  int64_t ok = 0;
  for (int i = 0; i < 2; ++i) {
    const std::string row = "/workers/by_worker/" + std::to_string(i);
    EXPECT_EQ(JsonAt(report, row + "/remote"), "true") << report;
    EXPECT_GT(JsonInt(report, row + "/jobs_ok"), 0) << report;
    EXPECT_GT(JsonAt(report, row + "/host").size(), 0u) << report;
    ok += JsonInt(report, row + "/jobs_ok");
  }
  EXPECT_EQ(ok, 20) << report;
}

// Jobs on their way to a worker when it leaves (instant filters keep many in flight) never
// reached it: they go back without an attempt, so with --max-attempts 1 no user fails.
TEST_F(StandingWorkerTest, JobsInFlightAtALeaveAreNotAttempts) {
  Users(400);
  auto run = Remote("grayscale", "tcp://127.0.0.1:*", {"--max-attempts", "1"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto a = StartWorker(endpoint, "a", {"--capacity", "16"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 20; }, 20)) << Stderr();
  ASSERT_EQ(::kill(a->pid(), SIGTERM), 0);
  EXPECT_EQ(ExitCode(a->Wait(10)), 0) << Log("a");
  auto b = StartWorker(endpoint, "b", {"--capacity", "16"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  ASSERT_NO_FATAL_FAILURE(ExpectAllOk(400));
}

// A second signal stops at once: the worker exits 1 and the coordinator requeues what it held.
TEST_F(StandingWorkerTest, ASecondSignalStopsAtOnceAndItsJobsMove) {
  Users(4);
  auto run = Remote("sleep:4000");
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto a = StartWorker(endpoint, "a", {"--capacity", "2", "--grace", "600"});
  ASSERT_TRUE(WaitFor([&] { return Has(Log("a"), "joined the coordinator"); }, 20)) << Log("a");
  // Let its compute thread start a 4 s job first (on a loaded machine a signal right at the
  // join can find nothing started yet: the worker then leaves at once, with no second signal).
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ::kill(a->pid(), SIGTERM);
  ASSERT_TRUE(WaitFor([&] { return Has(Log("a"), "leaving (signal)"); }, 10)) << Log("a");
  ::kill(a->pid(), SIGTERM);
  EXPECT_EQ(ExitCode(a->Wait(5)), 1) << Log("a");
  EXPECT_TRUE(Has(Log("a"), "second signal: stopping at once")) << Log("a");
  ASSERT_TRUE(WaitFor([&] { return Has(Stderr(), "left (a second signal"); }, 10)) << Stderr();
  auto b = StartWorker(endpoint, "b", {"--capacity", "8"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  ASSERT_NO_FATAL_FAILURE(ExpectAllOk(4));
}

// --keep-running: the worker outlives the run's Shutdown and serves the next coordinator.
TEST_F(StandingWorkerTest, KeepRunningServesTheNextRun) {
  Users(10);
  const std::string endpoint = FreeEndpoint();
  auto first = Remote("sleep:20", endpoint);
  auto w = StartWorker(endpoint, "w", {"--keep-running"});
  ASSERT_EQ(ExitCode(first->Wait(60)), 0) << Stderr();
  ASSERT_TRUE(WaitFor([&] { return Has(Log("w"), "waiting for its next run"); }, 10)) << Log("w");
  EXPECT_EQ(w->Wait(1), -1) << "a --keep-running worker exited after the run: " << Log("w");
  auto second = Remote("sleep:20", endpoint, {"--overwrite"});
  ASSERT_EQ(ExitCode(second->Wait(60)), 0) << Stderr();
  ASSERT_NO_FATAL_FAILURE(ExpectAllOk(10));
  const std::string marker = ":" + std::to_string(w->pid()) + ":";
  for (const auto& [id, line] : Manifest()) {
    EXPECT_TRUE(Has(JsonAt(line, "/worker"), marker)) << line;
  }
  EXPECT_EQ(ExitCode(w->Stop(10)), 0) << Log("w");
}

// --processes 2: two worker processes; one killed is restarted; SIGTERM to the supervisor is a
// warm shutdown of both, and another worker finishes the run with nothing lost.
TEST_F(StandingWorkerTest, ProcessesAreSupervisedRestartedAndStoppedWarm) {
  Users(60);
  auto run = Remote("sleep:150");
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto host = StartWorker(endpoint, "host", {"--processes", "2", "--capacity", "2"});
  ASSERT_TRUE(WaitFor([&] { return host->Children().size() == 2; }, 10)) << Log("host");
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 4; }, 20)) << Stderr();
  const pid_t victim = host->Children().front();
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return Has(Log("host"), "restarting it in 1 s"); }, 10)) << Log("host");
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<pid_t> now = host->Children();
        return now.size() == 2 && now.front() != victim && now.back() != victim;
      },
      10))
      << Log("host");
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 20; }, 30)) << Stderr();
  const std::vector<pid_t> children = host->Children();
  ASSERT_EQ(::kill(host->pid(), SIGTERM), 0);
  EXPECT_EQ(ExitCode(host->Wait(15)), 0) << Log("host");
  for (pid_t child : children) EXPECT_NE(::kill(child, 0), 0) << "left running: " << child;
  auto other = StartWorker(endpoint, "other", {"--capacity", "4"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  ASSERT_NO_FATAL_FAILURE(ExpectAllOk(60));
  std::set<std::string> workers;
  for (const auto& [id, line] : Manifest()) workers.insert(JsonAt(line, "/worker"));
  EXPECT_GE(workers.size(), 3u) << "two processes, a restarted one, and the other worker";
}

}  // namespace
}  // namespace pixelmill
