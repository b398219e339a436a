// The coordinator as a careless operator runs it: into a folder that holds an earlier run, twice
// at once on one folder, onto a full disk, with stderr closed, and with signals arriving while
// its workers start. Real coordinator, real fixture server and workers; every wait is bounded.
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ExitCode;
using testing::JsonAt;
using testing::JsonHas;
using testing::ReadFile;
using testing::WaitFor;

class RunSafetyTest : public testing::CoordinatorRun {
 protected:
  // Runs `script` with bash; returns its exit code.
  int Bash(const std::string& script) {
    const std::string path = dir_.Write("script.sh", script);
    const int status = std::system(("timeout 120 bash " + path).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string Command(const std::vector<std::string>& flags) const {
    std::string line = testing::kCoordinatorBinary + " --input " + (dir_ / "users.jsonl").string() +
                       " --output " + (dir_ / "out").string() +
                       " --allow-private-networks --report " + (dir_ / "report.json").string();
    for (const std::string& flag : flags) line += " " + flag;
    return line;
  }
};

TEST_F(RunSafetyTest, ARerunIsRefusedUntilOverwriteWhichStartsAfresh) {
  Users(5);
  ASSERT_EQ(ExitCode(Start({"--filter", "none"})->Wait(30)), 0) << Stderr();
  const std::string first = ReadFile(dir_ / "out" / "manifest.jsonl");
  std::ofstream(dir_ / "out" / "images" / "999.jpg") << "an image of an earlier run";
  std::ofstream(dir_ / "out" / "notes.txt") << "the user's own file";

  ASSERT_EQ(ExitCode(Start({"--filter", "none"})->Wait(30)), 1);
  EXPECT_NE(Stderr().find("already holds a run"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("--overwrite"), std::string::npos) << Stderr();
  EXPECT_EQ(ReadFile(dir_ / "out" / "manifest.jsonl"), first) << "the earlier run was touched";

  Users(3);
  ASSERT_EQ(ExitCode(Start({"--filter", "none", "--overwrite"})->Wait(30)), 0) << Stderr();
  EXPECT_EQ(Manifest().size(), 3u);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "images" / "999.jpg"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "images" / "4.jpg"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "notes.txt"));
}

TEST_F(RunSafetyTest, TwoRunsOnOneFolderAreExclusive) {
  Users(12, [](int) { return "?latency=400"; });
  auto first = Start({"--filter", "none", "--concurrency", "2"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 1; }, 20)) << Stderr();
  const fs::path second_err = dir_ / "second.err";
  testing::ChildProcess second(
      {testing::kCoordinatorBinary, "--input", (dir_ / "users.jsonl").string(), "--output",
       (dir_ / "out").string(), "--allow-private-networks", "--filter", "none"},
      dir_ / "second.out", second_err);
  EXPECT_EQ(ExitCode(second.Wait(20)), 1);
  EXPECT_NE(ReadFile(second_err)
                .find("in use by another pixelmill run (pid " + std::to_string(first->pid()) + ")"),
            std::string::npos)
      << ReadFile(second_err);
  ASSERT_EQ(ExitCode(first->Wait(30)), 0) << Stderr();
  EXPECT_EQ(Manifest().size(), 12u);
  EXPECT_EQ(ManifestLines(), 12u);
}

// The manifest hits the file-size limit (a real EFBIG, as on a full disk): the run stops with
// the error, the manifest holds only complete lines, and the summary and report count exactly
// those lines.
TEST_F(RunSafetyTest, AFullDiskLeavesACompleteManifestAndTrueCounts) {
  Users(300);
  const int code = Bash("ulimit -f 16\n" + Command({"--filter", "none"}) + " 2>" +
                        (dir_ / "stderr").string() + "\nexit $?\n");
  EXPECT_EQ(code, 1) << Stderr();
  EXPECT_NE(Stderr().find("manifest.jsonl"), std::string::npos) << Stderr();
  EXPECT_NE(Stderr().find("file too large"), std::string::npos) << Stderr();
  const std::string manifest = ReadFile(dir_ / "out" / "manifest.jsonl");
  ASSERT_FALSE(manifest.empty());
  EXPECT_EQ(manifest.back(), '\n') << "torn last line";
  std::istringstream lines(manifest);
  size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_TRUE(JsonHas(line, "/status")) << "torn, or lines glued together: " << line;
  }
  EXPECT_GT(count, 10u);
  EXPECT_LT(count, 300u);
  const std::string report = Report();
  EXPECT_EQ(JsonAt(report, "/ok"), std::to_string(count))
      << "report counts differ from the manifest's " << count << " lines: " << report;
  EXPECT_NE(Stderr().find(std::to_string(count) + " ok"), std::string::npos) << Stderr();
}

// A closed stderr (`coordinator ... 2>&1 | true`) must not kill the run with SIGPIPE: the
// manifest and report are complete and the exit code is the run's.
TEST_F(RunSafetyTest, AClosedStderrDoesNotKillTheRun) {
  Users(20);
  const fs::path code_file = dir_ / "code";
  Bash(Command(
           {"--filter", "sleep:5", "--workers", "1", "--insecure", "--bind", "tcp://127.0.0.1:*"}) +
       " 2>&1 | true\necho ${PIPESTATUS[0]} > " + code_file.string() + "\n");
  EXPECT_EQ(ReadFile(code_file), "0\n");
  EXPECT_EQ(Manifest().size(), 20u);
  EXPECT_EQ(JsonAt(Report(), "/ok"), "20") << Report();
}

// SIGINT, SIGTERM and SIGHUP while workers are being spawned stop the run in order (exit 1,
// "interrupted by"), leave no worker and no temp folder behind.
TEST_F(RunSafetyTest, SignalsWhileWorkersStartStopTheRunInOrder) {
  Users(50, [](int) { return "?latency=200"; });
  // The runs' own temp folder, so tests running beside this one do not count.
  const fs::path tmp = dir_ / "tmp";
  fs::create_directory(tmp);
  ASSERT_EQ(::setenv("TMPDIR", tmp.c_str(), 1), 0);
  for (auto [signum, name] :
       {std::pair{SIGHUP, "SIGHUP"}, std::pair{SIGTERM, "SIGTERM"}, std::pair{SIGINT, "SIGINT"}}) {
    fs::remove_all(dir_ / "out");
    auto run = Start({"--filter", "sleep:50", "--workers", "8"});
    ASSERT_TRUE(WaitFor([&] { return !run->Children().empty(); }, 20));
    const std::vector<pid_t> workers = run->Children();
    ASSERT_EQ(::kill(run->pid(), signum), 0);
    EXPECT_EQ(ExitCode(run->Wait(30)), 1) << name << ": " << Stderr();
    EXPECT_NE(Stderr().find(std::string("interrupted by ") + name), std::string::npos) << Stderr();
    for (pid_t worker : workers) EXPECT_TRUE(WaitFor([&] { return testing::Gone(worker); }, 5));
  }
  ::unsetenv("TMPDIR");
  EXPECT_TRUE(fs::is_empty(tmp)) << "a run left something in its TMPDIR";
}

// A signal that arrives while the input is still loading stops the run before any download.
TEST_F(RunSafetyTest, ASignalDuringLoadingStopsBeforeAnyDownload) {
  std::string text;
  for (int i = 0; i < 400000; ++i) {
    text += R"({"id": )" + std::to_string(i) + R"(, "name": "u", "image_url": ")" +
            api_.Url("/img/1.jpg") + "\"}\n";
  }
  dir_.Write("users.jsonl", text);
  auto run = Start({"--filter", "none"});
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "out" / ".lock"); }, 20));
  ASSERT_EQ(::kill(run->pid(), SIGTERM), 0);
  EXPECT_EQ(ExitCode(run->Wait(60)), 1) << Stderr();
  EXPECT_NE(Stderr().find("interrupted by SIGTERM"), std::string::npos) << Stderr();
}

}  // namespace
}  // namespace pixelmill
