// The worker pool against workers that misbehave without dying: a worker that heartbeats but
// never answers, a hung filter, a frozen local worker, a worker that returns bytes that are not
// an image, no worker at all, and a worker binary that cannot run. Real coordinator, real
// workers, a fake worker speaking the real protocol; every wait is bounded.
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/fake_worker.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::FakeWorker;
using testing::JsonAt;
using testing::JsonHas;
using testing::JsonInt;
using testing::WaitFor;

class PoolFaultsTest : public testing::CoordinatorRun {
 protected:
  // How many manifest lines hold `value` at `pointer`.
  size_t Count(const std::string& pointer, const std::string& value) const {
    size_t n = 0;
    for (auto& [id, line] : Manifest()) n += JsonAt(line, pointer) == value;
    return n;
  }
};

// A worker that heartbeats but never returns its jobs would stall the run forever: past
// --job-timeout its jobs go to another worker and it is told to leave.
TEST_F(PoolFaultsTest, JobsHeldPastTheTimeoutMoveToAnotherWorker) {
  Users(60);
  auto run = Start({"--filter", "sleep:50", "--workers", "1", "--insecure", "--bind",
                    "tcp://127.0.0.1:*", "--job-timeout", "1", "--heartbeat-ms", "200"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  FakeWorker stuck(endpoint, FakeWorker::Answer::kNever);
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_GT(stuck.jobs(), 0) << "the fake worker never got a job: the test proved nothing";
  EXPECT_EQ(Manifest().size(), 60u);
  EXPECT_EQ(Count("/status", "ok"), 60u);
  EXPECT_NE(Stderr().find("(--job-timeout)"), std::string::npos) << Stderr();
  EXPECT_GT(JsonInt(Report(), "/workers/timed_out"), 0) << Report();
}

// A local worker whose filter hangs is killed and replaced; a job that hangs on every worker
// fails with job_timeout after --max-attempts.
TEST_F(PoolFaultsTest, AHungFilterIsKilledAndTheJobFailsAfterMaxAttempts) {
  Users(2);
  auto run = Start({"--filter", "sleep:20000", "--workers", "1", "--job-timeout", "0.5",
                    "--heartbeat-ms", "100", "--max-attempts", "2"});
  ASSERT_EQ(ExitCode(run->Wait(30)), 3) << Stderr();
  EXPECT_EQ(Manifest().size(), 2u);
  EXPECT_EQ(Count("/error/code", "job_timeout"), 2u) << Stderr();
  EXPECT_GT(JsonInt(Report(), "/workers/restarts"), 0) << Report();
}

// A SIGSTOPped local worker is declared dead after 3 missed heartbeats, then killed and
// replaced: a one-worker run finishes instead of stopping.
TEST_F(PoolFaultsTest, AFrozenLocalWorkerIsKilledAndReplaced) {
  Users(30);
  auto run = Start({"--filter", "sleep:50", "--workers", "1", "--heartbeat-ms", "100"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 3; }, 20)) << Stderr();
  const std::vector<pid_t> workers = run->Children();
  ASSERT_EQ(workers.size(), 1u);
  ASSERT_EQ(::kill(workers[0], SIGSTOP), 0);
  ASSERT_EQ(ExitCode(run->Wait(30)), 0) << Stderr();
  EXPECT_EQ(Count("/status", "ok"), 30u);
  EXPECT_NE(Stderr().find("missed 3 heartbeats"), std::string::npos) << Stderr();
  EXPECT_TRUE(WaitFor([&] { return testing::Gone(workers[0]); }, 5)) << "frozen worker left";
}

// A worker's result is checked before it is saved: garbage or an empty payload fails that
// attempt (bad_result) and the job is done by another worker.
TEST_F(PoolFaultsTest, ResultsThatAreNotImagesAreRetriedElsewhere) {
  for (auto answer : {FakeWorker::Answer::kGarbage, FakeWorker::Answer::kEmpty}) {
    fs::remove_all(dir_ / "out");
    Users(60);
    auto run = Start(
        {"--filter", "sleep:30", "--workers", "1", "--insecure", "--bind", "tcp://127.0.0.1:*"});
    const std::string endpoint = RemoteEndpoint();
    ASSERT_FALSE(endpoint.empty()) << Stderr();
    // The liar joins once the real worker works, so there is always another worker to retry on
    // (alone, a worker is given its own failed job again).
    ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 1; }, 20)) << Stderr();
    FakeWorker liar(endpoint, answer);
    ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
    EXPECT_GT(liar.jobs(), 0);
    EXPECT_EQ(Count("/status", "ok"), 60u);
    for (auto& [id, line] : Manifest()) {
      EXPECT_TRUE(JsonHas(line, "/worker") && JsonAt(line, "/worker").rfind("fake:", 0) != 0)
          << "a fake result was saved: " << line;
    }
    EXPECT_GT(JsonInt(Report(), "/workers/bad_results"), 0) << Report();
  }
}

// A worker (of another version) that lacks the run's filter is refused at Hello with the
// reason instead of being fed jobs it would fail.
TEST_F(PoolFaultsTest, AWorkerWithoutTheFilterIsRejectedAtHello) {
  Users(20);
  auto run = Start(
      {"--filter", "sleep:20", "--workers", "1", "--insecure", "--bind", "tcp://127.0.0.1:*"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  FakeWorker old(endpoint, FakeWorker::Answer::kGarbage, 2, {"none", "spin"});
  ASSERT_TRUE(WaitFor([&] { return old.rejected(); }, 20)) << Stderr();
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_EQ(old.jobs(), 0);
  EXPECT_NE(Stderr().find("needs 'sleep', which the worker does not have"), std::string::npos)
      << Stderr();
}

// With only remote workers and none joining, the coordinator says it is waiting, then gives
// up after --remote-wait with a no_workers line per user.
TEST_F(PoolFaultsTest, NoWorkerJoiningEndsTheRunWithNoWorkersLines) {
  Users(5);
  auto run = Start({"--filter", "sleep:10", "--workers", "0", "--insecure", "--bind",
                    "tcp://127.0.0.1:*", "--remote-wait", "1", "--heartbeat-ms", "200"});
  ASSERT_EQ(ExitCode(run->Wait(30)), 3) << Stderr();
  EXPECT_EQ(Count("/error/code", "no_workers"), 5u);
  EXPECT_NE(Stderr().find("waiting for a remote worker on tcp://127.0.0.1:"), std::string::npos)
      << Stderr();
}

// Local workers that cannot start, with --bind: the run waits for remote workers (saying so),
// then gives up, instead of waiting forever in silence.
TEST_F(PoolFaultsTest, LocalWorkersThatCannotStartThenNoRemoteEndsTheRun) {
  Users(5);
  auto run = Start({"--filter", "sleep:10", "--workers", "1", "--worker-binary", "/bin/false",
                    "--insecure", "--bind", "tcp://127.0.0.1:*", "--remote-wait", "1",
                    "--heartbeat-ms", "200"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 3) << Stderr();
  EXPECT_EQ(Count("/error/code", "no_workers"), 5u);
  EXPECT_NE(Stderr().find("keeps dying before it can join"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("waiting for a remote worker"), std::string::npos) << Stderr();
  // A cap too small to start under (a GLib abort) was never named: the give-up names it.
  EXPECT_NE(Stderr().find("MB (--worker-memory-mb)"), std::string::npos) << Stderr();
}

// The worker binary comes from next to the coordinator or --worker-binary, never from PATH.
TEST_F(PoolFaultsTest, TheWorkerBinaryIsNeverLookedUpOnPath) {
  Users(3);
  const fs::path bin = dir_ / "bin", path = dir_ / "path";
  fs::create_directories(bin);
  fs::create_directories(path);
  fs::copy_file(testing::kCoordinatorBinary, bin / "coordinator");
  const fs::path marker = dir_ / "impostor-ran";
  {
    std::ofstream impostor(path / "worker");
    impostor << "#!/bin/sh\ntouch " << marker.string() << "\n";
  }
  fs::permissions(path / "worker", fs::perms::owner_all);
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (path.string() + ":" + old_path).c_str(), 1);
  auto run = Start({"--filter", "sleep:10", "--workers", "1"}, (bin / "coordinator").string());
  const int code = ExitCode(run->Wait(30));
  ::setenv("PATH", old_path.c_str(), 1);
  EXPECT_EQ(code, 1) << Stderr();
  EXPECT_NE(Stderr().find("--worker-binary"), std::string::npos) << Stderr();
  EXPECT_FALSE(fs::exists(marker)) << "a worker found on PATH was run";

  auto missing = Start({"--filter", "sleep:10", "--workers", "1", "--worker-binary",
                        (dir_ / "nope").string(), "--overwrite"});
  EXPECT_EQ(ExitCode(missing->Wait(30)), 1) << Stderr();
  EXPECT_NE(Stderr().find("is not executable"), std::string::npos) << Stderr();
}

}  // namespace
}  // namespace pixelmill
