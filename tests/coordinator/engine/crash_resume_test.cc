// Crash safety end to end: the real coordinator, real worker processes and the real
// fixture server on loopback, stopped the hard ways -- SIGKILL at seeded pseudo-random points,
// a torn manifest line as a power loss leaves it, Ctrl-C once and twice, a file-size limit
// mid-run -- and then resumed, must end with exactly one manifest line per user, every ok
// line's image complete on disk, no temporary file and no worker process left. Every wait is
// bounded.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/image/image_probe.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::JsonAt;
using testing::JsonHas;
using testing::JsonInt;
using Clock = std::chrono::steady_clock;
using testing::ExitCode;
using testing::ReadFile;
using testing::WaitFor;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

class CrashResumeTest : public testing::CoordinatorRun {
 protected:
  fs::path Out() const { return dir_ / "out"; }

  // Local worker processes started by the coordinator `coordinator`, found by a /proc scan (so
  // orphans reparented to init count too): the worker binary, with the coordinator's pid in
  // its ipc endpoint (ipc://@pixelmill-PID-...). Zombies do not count.
  static std::vector<pid_t> WorkersOf(pid_t coordinator) {
    std::error_code ec;
    const fs::path worker = fs::canonical(testing::kWorkerBinary, ec);
    const std::string endpoint = "pixelmill-" + std::to_string(coordinator) + "-";
    std::vector<pid_t> found;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::error_code link_ec;
      if (fs::read_symlink(entry.path() / "exe", link_ec) != worker || link_ec) continue;
      const std::string cmdline = ReadFile(entry.path() / "cmdline");
      const pid_t pid = static_cast<pid_t>(std::stol(name));
      if (cmdline.find(endpoint) != std::string::npos && !testing::Gone(pid)) found.push_back(pid);
    }
    return found;
  }

  // Waits (bounded) until no worker of `coordinator` runs; false with the survivors named.
  static ::testing::AssertionResult NoWorkersLeft(pid_t coordinator, double seconds = 5) {
    std::vector<pid_t> left;
    if (WaitFor(
            [&] {
              left = WorkersOf(coordinator);
              return left.empty();
            },
            seconds)) {
      return ::testing::AssertionSuccess();
    }
    std::string pids;
    for (pid_t p : left) pids += " " + std::to_string(p);
    return ::testing::AssertionFailure()
           << left.size() << " worker(s) of coordinator " << coordinator << " still running "
           << seconds << " s after it ended:" << pids;
  }

  // Temporary files (".<name>.<random>.tmp") in OUT and OUT/images.
  std::vector<std::string> TempFiles() const {
    std::vector<std::string> found;
    for (const fs::path& folder : {Out(), Out() / "images"}) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(folder, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.front() == '.' && name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
          found.push_back(entry.path().string());
        }
      }
    }
    return found;
  }

  // The manifest's last line as a power loss mid-append leaves it: a prefix of a plausible
  // line for some user, without its newline.
  void AppendTornLine(std::mt19937& random, int users) {
    const int id = std::uniform_int_distribution<int>(0, users - 1)(random);
    const std::string line = R"({"id":)" + std::to_string(id) +
                             R"(,"status":"ok","output":"images/)" + std::to_string(id) +
                             R"(.jpg","bytes":1234,"content_type":"image/jpeg"})";
    const size_t cut = std::uniform_int_distribution<size_t>(1, line.size() - 1)(random);
    std::ofstream(Out() / "manifest.jsonl", std::ios::binary | std::ios::app)
        << line.substr(0, cut);
  }

  // A power loss without --durable can keep an image's line (the manifest is fdatasynced) but
  // lose the tail of the image's data: one user with an ok line gets its image cut short.
  // Returns the id, or -1 when no user has an ok line yet.
  int64_t CutAnImage(std::mt19937& random) {
    std::vector<std::string> ok;
    std::istringstream lines(ReadFile(Out() / "manifest.jsonl"));
    for (std::string line; std::getline(lines, line);) {
      if (JsonAt(line, "/status") == "ok") ok.push_back(line);
    }
    if (ok.empty()) return -1;
    const std::string line = ok[std::uniform_int_distribution<size_t>(0, ok.size() - 1)(random)];
    const fs::path file = Out() / JsonAt(line, "/output");
    std::error_code ec;
    const uintmax_t size = fs::file_size(file, ec);
    if (ec || size == 0) return -1;
    fs::resize_file(file, std::uniform_int_distribution<uintmax_t>(0, size - 1)(random), ec);
    return ec ? -1 : JsonInt(line, "/id");
  }

  // The end state of a finished run of users 0..users-1: exactly one line per user, each ok
  // (a healthy fixture), its image a regular file of exactly the recorded bytes whose header
  // parses with the recorded size; nothing else in images/, no temporary file, run.json
  // complete.
  void ExpectCompleteOutput(int users) {
    const std::string text = ReadFile(Out() / "manifest.jsonl");
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n') << "torn last line";
    std::istringstream lines(text);
    std::set<int64_t> ids;
    size_t count = 0, bad = 0;
    for (std::string line; std::getline(lines, line); ++count) {
      ASSERT_TRUE(JsonHas(line, "/id")) << "a line without an id: " << line;
      const int64_t id = JsonInt(line, "/id");
      EXPECT_TRUE(ids.insert(id).second) << "a second line for id " << id;
      if (JsonAt(line, "/status") != "ok") {
        if (++bad <= 5) ADD_FAILURE() << "not ok: " << line;
        continue;
      }
      const std::string output = JsonAt(line, "/output");
      EXPECT_EQ(output, "images/" + std::to_string(id) + ".jpg") << line;
      const fs::path file = Out() / output;
      std::error_code ec;
      if (!fs::is_regular_file(fs::symlink_status(file, ec))) {
        if (++bad <= 5) ADD_FAILURE() << "no image for an ok line: " << line;
        continue;
      }
      const std::string bytes = ReadFile(file);
      if (std::to_string(bytes.size()) != JsonAt(line, "/bytes")) {
        if (++bad <= 5) ADD_FAILURE() << file << " has " << bytes.size() << " bytes: " << line;
        continue;
      }
      Result<ImageHeader> header = ProbeImage(bytes);
      if (!header.ok() || std::to_string(header->width) != JsonAt(line, "/width") ||
          std::to_string(header->height) != JsonAt(line, "/height")) {
        if (++bad <= 5) {
          ADD_FAILURE() << file << " is not the recorded image ("
                        << (header.ok() ? "other size" : header.status().message())
                        << "): " << line;
        }
      }
    }
    EXPECT_EQ(bad, 0u) << "users whose result is not ok or not complete on disk";
    EXPECT_EQ(count, static_cast<size_t>(users)) << "lines in manifest.jsonl";
    EXPECT_EQ(ids.size(), static_cast<size_t>(users));
    if (!ids.empty()) {
      EXPECT_EQ(*ids.begin(), 0);
      EXPECT_EQ(*ids.rbegin(), users - 1);
    }
    size_t images = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(Out() / "images", ec)) {
      images += entry.path().filename().string().front() != '.';
    }
    EXPECT_EQ(images, static_cast<size_t>(users)) << "files in images/";
    const std::vector<std::string> temps = TempFiles();
    EXPECT_TRUE(temps.empty()) << temps.size() << " temporary file(s) left, e.g. " << temps[0];
    EXPECT_EQ(JsonAt(ReadFile(Out() / "run.json"), "/complete"), "true")
        << ReadFile(Out() / "run.json");
  }

  // The manifest of a stopped run: only complete lines, each an object.
  void ExpectOnlyCompleteLines() {
    const std::string text = ReadFile(Out() / "manifest.jsonl");
    if (text.empty()) return;
    EXPECT_EQ(text.back(), '\n') << "torn last line";
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      EXPECT_TRUE(JsonHas(line, "/status")) << line;
    }
  }

  // The command a stopped run printed after "Resume with:", split into words (the test's
  // paths need no shell quoting).
  std::vector<std::string> ResumeCommand() const {
    const std::string err = Stderr();
    const std::string marker = "Resume with:\n  ";
    const size_t at = err.find(marker);
    if (at == std::string::npos) return {};
    const size_t start = at + marker.size();
    const std::string line = err.substr(start, err.find('\n', start) - start);
    EXPECT_EQ(line.find_first_of("'\"\\"), std::string::npos) << "quoted: " << line;
    std::istringstream words(line);
    std::vector<std::string> argv;
    for (std::string word; words >> word;) argv.push_back(word);
    return argv;
  }
};

// SIGKILL at seeded pseudo-random points -- while workers start, while downloads are in flight
// (the fixture answers after 20 ms), while images are filtered and lines committed -- each time
// followed by --resume, with a torn line appended before it as a power loss mid-append would
// leave. A final resume then finishes the job: one line per user, every image whole, no temp
// file, no worker left at any point. A changed input is then refused.
TEST_F(CrashResumeTest, RepeatedKillsAndTornLinesThenResumeEndWithOneLinePerUser) {
  constexpr int kUsers = 3000;
  constexpr int kMaxRuns = 15;
  constexpr int kMinKills = 10;
  uint32_t seed = 20240909;
  if (const char* s = std::getenv("PIXELMILL_KILL_SEED"))
    seed = static_cast<uint32_t>(std::atol(s));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PIXELMILL_KILL_SEED to repeat)");
  std::mt19937 random(seed);
  Users(kUsers, [](int) { return "?latency=20"; });
  const std::vector<std::string> flags = {"--filter", "grayscale", "--workers", "2"};

  const auto start = Clock::now();
  int kills = 0, torn = 0, cut = 0;  // cut: images cut short, whose users must be redone
  double rate = 1500;                // manifest lines a second, measured as the runs go
  std::string log;
  for (int i = 0; i < kMaxRuns && kills < kMinKills + 2; ++i) {
    // A torn line only where a line could have been written: run.json comes before any.
    if (i > 0 && fs::exists(Out() / "run.json")) {
      AppendTornLine(random, kUsers);
      ++torn;
      cut += CutAnImage(random) >= 0;
    }
    std::vector<std::string> run_flags = flags;
    if (i > 0) run_flags.push_back("--resume");
    const size_t lines_before = ManifestLines();
    const auto started = Clock::now();
    auto run = Start(run_flags);
    ASSERT_TRUE(run->started());
    // Where to kill: after a delay (early ones hit loading, replay, workers starting and the
    // first downloads), or once the manifest has grown by some lines (mid-stream: downloads,
    // filters and commits all in flight), plus a little jitter. Both are drawn within about
    // half of the work left, so that the job outlasts at least kMinKills kills.
    const size_t left = kUsers - std::min<size_t>(lines_before, kUsers - 1);
    std::string point;
    if (std::uniform_int_distribution<int>(0, 1)(random) == 0) {
      const double most = std::min(1500.0, 150 + 500 * static_cast<double>(left) / rate);
      const int ms = std::uniform_int_distribution<int>(50, static_cast<int>(most))(random);
      point = std::to_string(ms) + " ms";
      WaitFor([&] { return Seconds(started) * 1000 >= ms || testing::Gone(run->pid()); }, 10);
    } else {
      const size_t grow =
          std::uniform_int_distribution<size_t>(1, std::clamp<size_t>(left / 3, 1, 300))(random);
      point = "+" + std::to_string(grow) + " lines";
      WaitFor([&] { return ManifestLines() >= lines_before + grow || testing::Gone(run->pid()); },
              20);
      SleepMs(std::uniform_int_distribution<int>(0, 30)(random));
    }
    const bool killed = ::kill(run->pid(), SIGKILL) == 0;
    const int status = run->Wait(30);
    ASSERT_NE(status, -1) << "a killed coordinator did not end";
    const bool died = killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    kills += died;
    const double ran = Seconds(started);
    const size_t lines_after = ManifestLines();
    // Lines a second once running (start-up takes about 0.15 s): the fastest seen so far.
    if (ran > 0.3 && lines_after > lines_before) {
      rate = std::max(rate, static_cast<double>(lines_after - lines_before) / (ran - 0.15));
    }
    log += "run " + std::to_string(i) + ": kill at " + point + " after " +
           std::to_string(ran).substr(0, 5) +
           " s: " + (died ? "killed" : "had exited " + std::to_string(ExitCode(status))) +
           ", lines " + std::to_string(lines_before) + " -> " + std::to_string(lines_after) + "\n";
    EXPECT_TRUE(NoWorkersLeft(run->pid())) << log;
    if (!died) {
      // It finished first: a run that ends with exit 0 is complete, nothing is left to kill.
      ASSERT_EQ(ExitCode(status), 0) << Stderr() << log;
      break;
    }
  }
  EXPECT_GE(kills, kMinKills) << log;
  EXPECT_GE(torn, kMinKills) << log;
  EXPECT_GE(cut, kMinKills - 2) << log;

  // The last resume, too, starts from a torn end: its own lines must not be glued to it.
  AppendTornLine(random, kUsers);
  ++torn;
  cut += CutAnImage(random) >= 0;
  std::vector<std::string> final_flags = flags;
  final_flags.push_back("--resume");
  auto last = Start(final_flags);
  const int status = last->Wait(60);
  ASSERT_EQ(ExitCode(status), 0) << Stderr() << log;
  EXPECT_NE(Stderr().find("done: 3000 users, 3000 ok"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("cut a torn end off manifest.jsonl (1 line(s)"), std::string::npos)
      << Stderr();
  EXPECT_TRUE(NoWorkersLeft(last->pid()));
  ExpectCompleteOutput(kUsers);
  std::printf("%s%d kills, %d torn lines, %d images cut, %.1f s in all\n", log.c_str(), kills, torn,
              cut, Seconds(start));

  // The input changes afterwards: a resume is refused, naming the change and the way on.
  const std::string manifest = ReadFile(Out() / "manifest.jsonl");
  Users(kUsers + 1, [](int) { return "?latency=20"; });
  ASSERT_EQ(ExitCode(Start(final_flags)->Wait(30)), 1) << Stderr();
  EXPECT_NE(Stderr().find("input file changed: size"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("--resume-anyway"), std::string::npos) << Stderr();
  EXPECT_EQ(ReadFile(Out() / "manifest.jsonl"), manifest) << "touched though refused";
}

// One SIGINT with work in flight: the run drains for up to --grace, exits 1 with the exact
// command to resume, leaves no worker; that command then finishes the job.
TEST_F(CrashResumeTest, SigintDrainsThenThePrintedCommandFinishesTheRun) {
  constexpr int kUsers = 40;
  Users(kUsers, [](int) { return "?latency=100"; });
  // Each worker filters one image at a time: 2 workers do 10 images a second, so the 2 s of
  // grace end with work still in flight.
  auto run = Start({"--filter", "sleep:200", "--workers", "2", "--grace", "2"});
  // The signal comes once the first user is saved: the other 39 (about 4 s of filtering) are
  // then in flight or waiting.
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 1; }, 60)) << Stderr();
  const size_t at_signal = ManifestLines();
  const auto signalled = Clock::now();
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  const int status = run->Wait(60);
  ASSERT_NE(status, -1) << "still running a minute after a SIGINT with 2 s of grace: " << Stderr();
  const double stop_s = Seconds(signalled);
  EXPECT_EQ(ExitCode(status), 1) << Stderr();
  EXPECT_NE(Stderr().find("interrupted by SIGINT"), std::string::npos) << Stderr();
  EXPECT_TRUE(NoWorkersLeft(run->pid()));
  ExpectOnlyCompleteLines();
  const size_t saved = ManifestLines();
  EXPECT_LT(saved, static_cast<size_t>(kUsers)) << "it drained everything, past its grace";
  EXPECT_GT(saved, at_signal) << "the drain finished nothing in flight: " << Stderr();
  EXPECT_TRUE(TempFiles().empty());

  const std::vector<std::string> command = ResumeCommand();
  ASSERT_FALSE(command.empty()) << "no resume command in: " << Stderr();
  EXPECT_EQ(command[0], testing::kCoordinatorBinary);
  EXPECT_NE(std::find(command.begin(), command.end(), "--resume"), command.end())
      << "no --resume in: " << Stderr();
  const auto resumed_at = Clock::now();
  testing::ChildProcess resumed(command, dir_ / "stdout", dir_ / "stderr");
  const int resumed_status = resumed.Wait(60);
  EXPECT_EQ(ExitCode(resumed_status), 0) << Stderr();
  EXPECT_NE(Stderr().find("(" + std::to_string(saved) + " skipped)"), std::string::npos)
      << Stderr();
  EXPECT_TRUE(NoWorkersLeft(resumed.pid()));
  ExpectCompleteOutput(kUsers);
  std::printf("stopped %.2f s after SIGINT (grace 2 s) with %zu lines; resume took %.2f s\n",
              stop_s, saved, Seconds(resumed_at));
}

// A second SIGINT stops at once, long before the grace is over, and the folder still resumes.
TEST_F(CrashResumeTest, ASecondSigintStopsAtOnceAndTheRunStillResumes) {
  constexpr int kUsers = 16;
  Users(kUsers, [](int) { return "?latency=50"; });
  // Draining all of it would take about 12 s (16 filters of 1.5 s, one at a time per worker).
  const std::vector<std::string> flags = {"--filter", "sleep:1500", "--grace", "60"};
  std::vector<std::string> first = flags;
  first.insert(first.end(), {"--workers", "2"});
  auto run = Start(first);
  // Once the first results are saved, with the rest in flight or waiting.
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 1; }, 60)) << Stderr();
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  // The second signal once the first is seen to be handled (the run says it is draining).
  ASSERT_TRUE(
      WaitFor([&] { return Stderr().find("send it again to stop now") != std::string::npos; }, 60))
      << Stderr();
  const auto second = Clock::now();
  ASSERT_EQ(::kill(run->pid(), SIGINT), 0);
  const int status = run->Wait(60);
  ASSERT_NE(status, -1) << Stderr();
  const double stop_s = Seconds(second);
  EXPECT_EQ(ExitCode(status), 1) << Stderr();
  EXPECT_NE(Stderr().find("interrupted by SIGINT"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("--resume"), std::string::npos) << Stderr();
  EXPECT_TRUE(NoWorkersLeft(run->pid()));
  ExpectOnlyCompleteLines();
  const size_t saved = ManifestLines();
  EXPECT_GE(saved, 1u);
  // Draining would have saved all 16 (its grace is 60 s): stopping at once leaves most undone.
  EXPECT_LE(saved, static_cast<size_t>(kUsers) / 2) << "it drained instead of stopping";
  EXPECT_EQ(JsonAt(ReadFile(Out() / "run.json"), "/complete"), "false");

  // More workers for the rest: the worker count is not part of a run's identity.
  std::vector<std::string> again = flags;
  again.insert(again.end(), {"--workers", "8", "--resume"});
  auto resumed = Start(again);
  EXPECT_EQ(ExitCode(resumed->Wait(60)), 0) << Stderr();
  EXPECT_NE(Stderr().find("(" + std::to_string(saved) + " skipped)"), std::string::npos)
      << Stderr();
  EXPECT_TRUE(NoWorkersLeft(resumed->pid()));
  ExpectCompleteOutput(kUsers);
  std::printf("stopped %.2f s after the second SIGINT (grace 60 s) with %zu lines\n", stop_s,
              saved);
}

// The manifest hits a file-size limit mid-run (EFBIG, as a full disk): the run stops with only
// complete lines; a resume without the limit finishes with one line per user, images whole.
TEST_F(CrashResumeTest, AFullDiskMidRunThenResumeFinishesTheJob) {
  constexpr int kUsers = 600;
  Users(kUsers);
  const std::string base = testing::kCoordinatorBinary + " --input " +
                           (dir_ / "users.jsonl").string() + " --output " + Out().string() +
                           " --allow-private-networks --filter grayscale --workers 2";
  // 48 KiB: room for run.json and each image (a few KiB), but for only part of the manifest's
  // lines (about 300 bytes each).
  const std::string script = dir_.Write(
      "full.sh", "ulimit -f 48\nexec " + base + " 2>" + (dir_ / "stderr").string() + "\n");
  const int code = std::system(("timeout 60 bash " + script).c_str());
  ASSERT_EQ(WIFEXITED(code) ? WEXITSTATUS(code) : -1, 1) << Stderr();
  EXPECT_NE(Stderr().find("file too large"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("--resume"), std::string::npos) << "no way on named: " << Stderr();
  ExpectOnlyCompleteLines();
  const size_t saved = ManifestLines();
  EXPECT_GT(saved, 10u);
  EXPECT_LT(saved, static_cast<size_t>(kUsers));

  auto resumed = Start({"--filter", "grayscale", "--workers", "2", "--resume"});
  EXPECT_EQ(ExitCode(resumed->Wait(60)), 0) << Stderr();
  EXPECT_NE(Stderr().find("done: 600 users, 600 ok"), std::string::npos) << Stderr();
  EXPECT_TRUE(NoWorkersLeft(resumed->pid()));
  ExpectCompleteOutput(kUsers);
}

// The disk fills on an image rather than on the manifest (here: images larger than the
// file-size limit). That is the output's failure, not the user's: the run must stop with the
// error and leave the user for a resume -- not write a failed line that --resume keeps, nor
// go on failing every later user the same way.
TEST_F(CrashResumeTest, AnImageThatDoesNotFitStopsTheRunAndResumeRedoesIt) {
  constexpr int kUsers = 200;
  testing::ImageApiProcess big(testing::kImageApiBinary, {"--size", "512x512"});
  ASSERT_TRUE(big.ok());
  // Every third image is 512x512 (about 7 KB as grayscale JPEG), the rest 64x64 (about 0.5 KB).
  std::vector<std::string> urls;
  for (int i = 0; i < kUsers; ++i) {
    const std::string path = "/img/" + std::to_string(i) + ".jpg";
    urls.push_back(i % 3 == 2 ? big.Url(path) : api_.Url(path));
  }
  UsersWithUrls(urls);
  const std::string base = testing::kCoordinatorBinary + " --input " +
                           (dir_ / "users.jsonl").string() + " --output " + Out().string() +
                           " --allow-private-networks --filter grayscale --workers 2";
  // 4 KiB: the small images fit, the big ones do not (nor more than about 13 manifest lines).
  const std::string script = dir_.Write(
      "full.sh", "ulimit -f 4\nexec " + base + " 2>" + (dir_ / "stderr").string() + "\n");
  const int code = std::system(("timeout 60 bash " + script).c_str());
  ASSERT_EQ(WIFEXITED(code) ? WEXITSTATUS(code) : -1, 1) << Stderr();
  EXPECT_NE(Stderr().find("ile too large"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("--resume"), std::string::npos) << Stderr();
  ExpectOnlyCompleteLines();
  std::istringstream lines(ReadFile(Out() / "manifest.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(JsonAt(line, "/status"), "ok") << "a user failed for the disk's sake: " << line;
  }

  auto resumed = Start({"--filter", "grayscale", "--workers", "2", "--resume"});
  EXPECT_EQ(ExitCode(resumed->Wait(60)), 0) << Stderr();
  EXPECT_NE(Stderr().find("done: 200 users, 200 ok"), std::string::npos) << Stderr();
  EXPECT_TRUE(NoWorkersLeft(resumed->pid()));
  ExpectCompleteOutput(kUsers);
}

}  // namespace
}  // namespace pixelmill
