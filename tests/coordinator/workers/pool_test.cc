// The worker pool end to end: the real coordinator spawning real worker processes (and
// workers started by hand over tcp on loopback), with crashes, freezes, hostile frames and
// coordinator deaths. Every wait is bounded.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "common/wire/protocol.h"
#include "tests/support/child_process.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/image_api_process.h"
#include "tests/support/json_at.h"
#include "tests/support/programs.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::ExitCode;
using testing::Gone;
using testing::ImageApiProcess;
using testing::JsonAt;
using testing::JsonInt;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

using testing::kCoordinatorBinary;
using testing::kImageApiBinary;
using testing::kWorkerBinary;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class PoolTest : public testing::CoordinatorRun {
 protected:
  // Runs with a --progress-file (one sample a second, at Progress()).
  std::unique_ptr<ChildProcess> StartSampled(std::vector<std::string> flags) {
    flags.insert(flags.end(), {"--progress-file", Progress().string()});
    return Start(flags);
  }
  fs::path Progress() const { return dir_ / "progress.jsonl"; }
  // The largest value of `field` over the progress samples.
  size_t MostInProgress(const std::string& field) const {
    size_t most = 0;
    std::istringstream lines(ReadFile(Progress()));
    for (std::string line; std::getline(lines, line);) {
      const int64_t value = JsonInt(line, "/" + field);  // a torn last line has none
      if (value >= 0) most = std::max<size_t>(most, static_cast<size_t>(value));
    }
    return most;
  }
  // The workers named by the manifest's lines.
  std::set<std::string> WorkersInManifest() const {
    std::set<std::string> workers;
    for (const auto& [id, line] : Manifest()) workers.insert(JsonAt(line, "/worker"));
    return workers;
  }
};

// The seed's test case 3: four filters on four workers run together. All four jobs are held by
// workers at once (a progress sample sees them: each filter sleeps 4 s, so a sample a second
// falls in that window), on more than one worker (a worker holds at most 2). One after another,
// a sample would see one. (The speed: `scripts/bench.sh proof`.)
TEST_F(PoolTest, FourSleepsOnFourWorkersRunTogether) {
  Users(4);
  auto run = StartSampled({"--filter", "sleep:4000", "--workers", "4"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_EQ(Manifest().size(), 4u);
  EXPECT_EQ(MostInProgress("jobs_in_flight"), 4u) << ReadFile(Progress());
  EXPECT_GE(WorkersInManifest().size(), 2u) << ReadFile(dir_ / "out" / "manifest.jsonl");
}

// CPU-bound filters spread over both worker processes: both filter users, and jobs are held by
// workers together (a worker holds at most 2; 8 filters of 0.5 s last long enough for a sample
// a second to see them). The speed-up is measured by `scripts/bench.sh proof`.
TEST_F(PoolTest, SpinJobsAreSharedByTwoWorkers) {
  Users(8);
  auto run = StartSampled({"--filter", "spin:500", "--workers", "2"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_EQ(Manifest().size(), 8u);
  EXPECT_EQ(WorkersInManifest().size(), 2u) << ReadFile(dir_ / "out" / "manifest.jsonl");
  EXPECT_GE(MostInProgress("jobs_in_flight"), 3u) << ReadFile(Progress());
}

// Chaos: workers are SIGKILLed again and again during a run of 1,200 jobs; every user still
// ends with exactly one line, all ok, and the killed jobs were retried.
TEST_F(PoolTest, WorkersKilledRepeatedlyLoseNothing) {
  Users(1200);
  auto run = Start({"--filter", "spin:4", "--workers", "3", "--max-attempts", "20"});
  std::mt19937 rng(99);
  std::set<pid_t> victims;
  // Kill k comes once 20 + 60 k lines are written, paced by the run's own progress: all 15 land
  // before its end (the last at 860 of 1,200 lines), on a fast machine or a busy one.
  for (size_t k = 0; k < 15; ++k) {
    std::vector<pid_t> workers;
    ASSERT_TRUE(WaitFor(
        [&] {
          workers.clear();
          for (pid_t pid : run->Children()) {
            if (victims.count(pid) == 0) workers.push_back(pid);
          }
          return Gone(run->pid()) || (!workers.empty() && ManifestLines() >= 20 + 60 * k);
        },
        60))
        << "kill " << k << ": no worker, or no progress: " << Stderr();
    ASSERT_FALSE(Gone(run->pid())) << "the run ended before kill " << k << ": " << Stderr();
    const pid_t victim = workers[rng() % workers.size()];
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    victims.insert(victim);
  }
  const int status = run->Wait(60);
  ASSERT_EQ(ExitCode(status), 0) << Stderr();
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 1200u);
  for (auto& [id, line] : lines) ASSERT_EQ(JsonAt(line, "/status"), "ok") << line;
  const std::string report = Report();
  EXPECT_GT(JsonInt(report, "/workers/requeued"), 0) << report;
  EXPECT_GT(JsonInt(report, "/workers/restarts"), 0) << report;
  EXPECT_NE(Stderr().find("died with signal 9"), std::string::npos);
}

// A poison image kills every worker that touches it: that user fails after max attempts with
// worker_died; everyone else finishes.
TEST_F(PoolTest, PoisonImageFailsAfterMaxAttemptsAndTheRunCompletes) {
  Users(40, [](int id) { return id == 7 || id == 23 ? std::string("?fault=poison") : ""; });
  auto run = Start({"--filter", "crash", "--workers", "2", "--max-attempts", "3", "--worker-binary",
                    testing::kCrashWorkerBinary},
                   testing::kCrashCoordinatorBinary);
  ASSERT_EQ(ExitCode(run->Wait(60)), 3) << Stderr();
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 40u);
  for (auto& [id, line] : lines) {
    if (id == 7 || id == 23) {
      EXPECT_EQ(JsonAt(line, "/error/code"), "worker_died") << line;
      EXPECT_NE(JsonAt(line, "/error/message").find("signal 9"), std::string::npos) << line;
      // One download and three dispatches.
      EXPECT_EQ(JsonAt(line, "/attempts"), "4") << line;
    } else {
      EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
    }
  }
}

// A worker started by hand joins a running job over tcp and takes work.
TEST_F(PoolTest, RemoteWorkerJoinsMidRun) {
  Users(150);
  auto run = Start(
      {"--filter", "sleep:25", "--workers", "1", "--insecure", "--bind", "tcp://127.0.0.1:*"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 10; }, 20));
  auto remote = StartWorker(endpoint, "remote");
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 150u);
  const std::string marker = ":" + std::to_string(remote->pid()) + ":";
  size_t by_remote = 0;
  for (auto& [id, line] : lines) {
    by_remote += JsonAt(line, "/worker").find(marker) != std::string::npos;
  }
  EXPECT_GT(by_remote, 10u) << "the remote worker took no share";
  EXPECT_EQ(ExitCode(remote->Wait(5)), 0) << "remote workers leave on Shutdown";
}

// A remote worker frozen with SIGSTOP is declared dead after 3 missed heartbeats; its jobs
// finish on the other worker.
TEST_F(PoolTest, FrozenRemoteWorkerIsDeclaredDeadAndItsJobsMove) {
  Users(120);
  auto run = Start(
      {"--filter", "sleep:40", "--workers", "0", "--insecure", "--bind", "tcp://127.0.0.1:*"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  auto a = StartWorker(endpoint, "a");
  auto b = StartWorker(endpoint, "b");
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 10; }, 20));
  ASSERT_EQ(::kill(a->pid(), SIGSTOP), 0);
  const auto frozen_at = Clock::now();
  ASSERT_TRUE(
      WaitFor([&] { return Stderr().find("missed 3 heartbeats") != std::string::npos; }, 60))
      << Stderr();
  // Not before 3 intervals of silence (1 s each): a lower bound, which a busy machine can only
  // make longer. The silence rule itself is tested without a clock (WorkerPoolTest).
  EXPECT_GT(SecondsSince(frozen_at), 2.0);
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 120u);
  for (auto& [id, line] : lines) EXPECT_EQ(JsonAt(line, "/status"), "ok") << line;
  ::kill(a->pid(), SIGCONT);
}

// Garbage from a peer on the worker port is counted and dropped; a Hello with the wrong
// protocol version gets a Reject with the reason; the run finishes normally.
TEST_F(PoolTest, HostileFramesAndWrongVersionsDoNotDisturbTheRun) {
  Users(60);
  auto run = Start(
      {"--filter", "sleep:20", "--workers", "1", "--insecure", "--bind", "tcp://127.0.0.1:*"});
  const std::string endpoint = RemoteEndpoint();
  ASSERT_FALSE(endpoint.empty()) << Stderr();
  zmq::context_t context;
  zmq::socket_t peer(context, zmq::socket_type::dealer);
  peer.set(zmq::sockopt::linger, 0);
  peer.connect(endpoint);
  std::mt19937 rng(5);
  for (int i = 0; i < 500; ++i) {
    const int frames = 1 + static_cast<int>(rng() % 5);
    for (int f = 0; f < frames; ++f) {
      std::string bytes(rng() % 200, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      zmq::message_t m(bytes.data(), bytes.size());
      (void)peer.send(m, f + 1 < frames ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  proto::Envelope hello;
  hello.mutable_hello()->set_protocol_version(99);
  hello.mutable_hello()->set_capacity(1);
  ASSERT_TRUE(SendMessage(peer, nullptr, hello, nullptr));
  zmq::pollitem_t item{peer.handle(), 0, ZMQ_POLLIN, 0};
  // The garbage before the Hello gets one Reject of its own ("cannot decode ..."); the Hello's
  // names the version.
  std::string reason, reasons;
  const auto start = Clock::now();
  while (reason.empty() && SecondsSince(start) < 60) {
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    std::vector<zmq::message_t> frames;
    while (ReceiveFrames(peer, frames)) {
      Result<Message> m = DecodeMessage(frames, Sender::kCoordinator, 1 << 20);
      if (!m.ok() || !m->envelope.has_reject()) continue;
      const std::string& text = m->envelope.reject().reason();
      reasons += text + "\n";
      if (text.find("protocol version") != std::string::npos) reason = text;
    }
  }
  EXPECT_NE(reason.find("protocol version 99"), std::string::npos) << reasons;
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  EXPECT_EQ(Manifest().size(), 60u);
  const std::string report = Report();
  EXPECT_GT(JsonInt(report, "/workers/malformed"), 0) << report;
  EXPECT_EQ(JsonAt(report, "/workers/rejected"), "1") << report;
}

// A setup failure (the --bind address is taken) ends the run at once with the reason.
TEST_F(PoolTest, TakenBindAddressIsAFatalErrorNotAHang) {
  Users(5);
  zmq::context_t context;
  zmq::socket_t squatter(context, zmq::socket_type::router);
  squatter.bind("tcp://127.0.0.1:*");
  const std::string taken = squatter.get(zmq::sockopt::last_endpoint);
  auto run = Start({"--filter", "spin:10", "--workers", "1", "--insecure", "--bind", taken});
  const int status = run->Wait(20);
  ASSERT_NE(status, -1) << "the coordinator hung";
  EXPECT_EQ(ExitCode(status), 1);
  EXPECT_NE(Stderr().find("Address already in use"), std::string::npos) << Stderr();
}

// When local workers can no longer be started at all (here: the binary is gone), the run ends
// with a line for every user instead of waiting forever.
TEST_F(PoolTest, WorkersThatCannotRestartEndTheRunWithLines) {
  Users(20);
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  fs::copy_file(kCoordinatorBinary, bin / "coordinator");
  fs::copy_file(kWorkerBinary, bin / "worker");
  auto started = Start({"--filter", "spin:300", "--workers", "1"}, (bin / "coordinator").string());
  ChildProcess& run = *started;
  std::vector<pid_t> workers;
  ASSERT_TRUE(WaitFor(
      [&] {
        workers = run.Children();
        return !workers.empty() && ManifestLines() >= 1;
      },
      20));
  fs::remove(bin / "worker");
  ::kill(workers[0], SIGKILL);
  const int status = run.Wait(60);
  ASSERT_NE(status, -1) << "the coordinator hung: " << Stderr();
  EXPECT_EQ(ExitCode(status), 3) << Stderr();
  std::map<int64_t, std::string> lines = Manifest();
  ASSERT_EQ(lines.size(), 20u);
  size_t no_workers = 0;
  for (auto& [id, line] : lines) no_workers += JsonAt(line, "/error/code") == "no_workers";
  EXPECT_GT(no_workers, 0u);
}

// No worker outlives its coordinator: normal exit, SIGINT, and SIGKILL of the coordinator.
TEST_F(PoolTest, NoOrphanWorkersAfterAnyExit) {
  Users(400);
  for (int how : {0, SIGINT, SIGKILL}) {
    fs::remove_all(dir_ / "out");
    auto run = Start({"--filter", "sleep:20", "--workers", "3"});
    std::vector<pid_t> workers;
    ASSERT_TRUE(WaitFor(
        [&] {
          workers = run->Children();
          return workers.size() == 3;
        },
        10));
    if (how != 0) {
      ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 5; }, 20));
      ::kill(run->pid(), how);
    }
    const int status = run->Wait(60);
    const int expected = how == 0 ? 0 : how == SIGINT ? 1 : -1;  // -1: killed by a signal
    EXPECT_EQ(ExitCode(status), expected) << Stderr();
    for (pid_t worker : workers) {
      EXPECT_TRUE(WaitFor([&] { return Gone(worker); }, 5))
          << "worker " << worker << " outlived its coordinator (signal " << how << ")";
    }
  }
}

}  // namespace
}  // namespace pixelmill
