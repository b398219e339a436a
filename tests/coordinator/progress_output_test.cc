// What a person running the coordinator sees: a progress line redrawn in place on a terminal
// (run under a pseudo-terminal with script(1)), plain periodic lines otherwise, nothing but the
// summary with --quiet, a JSONL time series with --progress-file, JSON logs with
// --log-format json.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/terminal_output.h"
#include "tests/support/coordinator_run.h"

namespace pixelmill::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ProgressOutputTest : public CoordinatorRun {
 protected:
  // 120 users at 100 ms, 12 at a time: about a second of downloads.
  void SlowUsers() {
    Users(120, [](int) { return "?latency=100"; });
  }
  std::vector<std::string> Flags(std::vector<std::string> extra) {
    std::vector<std::string> flags = {"--concurrency", "12"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return flags;
  }
};

TEST_F(ProgressOutputTest, OnATerminalTheLineIsRedrawnInPlaceAndClearedAtTheEnd) {
  SlowUsers();
  std::string command = "TERM=xterm " + kCoordinatorBinary + " --input " +
                        (dir_ / "users.jsonl").string() + " --output " + (dir_ / "out").string() +
                        " --allow-private-networks --concurrency 12";
  ChildProcess run({"/usr/bin/script", "-qfec", command, "/dev/null"}, dir_ / "tty");
  ASSERT_EQ(ExitCode(run.Wait(60)), 0) << ReadFile(dir_ / "tty");
  const std::string tty = ReadFile(dir_ / "tty");
  const size_t redraws = std::count(tty.begin(), tty.end(), '\r');
  EXPECT_GE(redraws, 4u) << tty;
  EXPECT_NE(tty.find("users/s]"), std::string::npos) << tty;
  EXPECT_NE(tty.find("\r\x1b[Ksummary:"), std::string::npos)
      << "the line is cleared before the summary: " << tty;
  EXPECT_NE(tty.find("\ndone: 120 users, 120 ok"), std::string::npos) << tty;
  EXPECT_EQ(tty.find("progress: "), std::string::npos) << "plain lines on a terminal";
}

TEST_F(ProgressOutputTest, WithoutATerminalPlainLinesComeAtTheInterval) {
  SlowUsers();
  auto run = Start(Flags({"--progress-interval", "0.2"}));
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  const std::string err = Stderr();
  size_t plain = 0;
  for (const std::string& line : Lines(err)) plain += line.rfind("progress: ", 0) == 0;
  EXPECT_GE(plain, 3u) << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << "no redraws off a terminal: " << err;
}

TEST_F(ProgressOutputTest, QuietPrintsOnlyTheSummary) {
  SlowUsers();
  auto run = Start(Flags({"--quiet", "--progress-interval", "0.2"}));
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  const std::vector<std::string> lines = Lines(Stderr());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("done: 120 users, 120 ok", 0), 0u) << Stderr();
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find("progress: "), std::string::npos) << Stderr();
  }
}

TEST_F(ProgressOutputTest, TheProgressFileIsAJsonlTimeSeries) {
  SlowUsers();
  // In the output folder, which the run has not made yet when the file is opened.
  ASSERT_FALSE(std::filesystem::exists(dir_ / "out"));
  auto run = Start(Flags({"--progress-file", (dir_ / "out" / "progress.jsonl").string()}));
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  const std::vector<std::string> samples = Lines(ReadFile(dir_ / "out" / "progress.jsonl"));
  ASSERT_GE(samples.size(), 2u);
  double last_t = -1;
  for (const std::string& sample : samples) {
    ASSERT_EQ(sample.front(), '{') << sample;
    const double t = std::stod(sample.substr(sample.find("\"t\":") + 4));
    EXPECT_GE(t, last_t) << sample;
    last_t = t;
    EXPECT_NE(sample.find("\"budget_used\":"), std::string::npos) << sample;
    EXPECT_NE(sample.find("\"images_waiting_for_workers_s\":"), std::string::npos) << sample;
  }
  EXPECT_NE(samples.back().find("\"ok\":120"), std::string::npos) << samples.back();
}

TEST_F(ProgressOutputTest, JsonLogsAreOneObjectALine) {
  Users(3);
  auto run = Start({"--resume", "--log-format", "json"});  // an empty folder: an info note
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  bool note = false;
  for (const std::string& line : Lines(Stderr())) {
    if (line.rfind("summary:", 0) == 0 || line.rfind("done: ", 0) == 0) break;  // plain text
    ASSERT_EQ(line.front(), '{') << line;
    EXPECT_NE(line.find("\"time\":\""), std::string::npos) << line;
    note |= line.find("\"level\":\"info\"") != std::string::npos &&
            line.find("no earlier run to resume") != std::string::npos;
  }
  EXPECT_TRUE(note) << Stderr();
}

TEST(ProgressLineTest, ShowsCountsRateEtaAndGauges) {
  Progress p;
  p.elapsed_s = 42;
  p.total = 10000;
  p.ok = 4100;
  p.failed = 3;
  p.skipped = 97;
  p.downloads_in_flight = 64;
  p.downloads_waiting = 10;
  p.images_waiting = 5;
  p.jobs_in_flight = 4;
  p.workers = 2;
  p.budget_used = 12 << 20;
  p.budget_limit = 512 << 20;
  const std::string line = TerminalOutput::Line(p, 100);
  EXPECT_NE(line.find(" 42% 4200/10.0k users, 3 failed [00:42<00:58, 100 users/s]"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("downloads 64+10 waiting"), std::string::npos) << line;
  EXPECT_NE(line.find("jobs 4 on 2 workers"), std::string::npos) << line;
  EXPECT_NE(line.find("memory 12.0/512 MiB"), std::string::npos) << line;
}

}  // namespace
}  // namespace pixelmill::testing
