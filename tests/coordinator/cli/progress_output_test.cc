// What a person running the coordinator sees: a progress line redrawn in place on a terminal
// (run under a pseudo-terminal with script(1), or on one of a set width with openpty), plain
// periodic lines otherwise, nothing but the done line with --quiet, a JSONL time series with
// --progress-file, JSON logs with --log-format json.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/cli/terminal_output.h"
#include "coordinator/events/event.h"
#include "tests/support/coordinator_run.h"
#include "tests/support/json_at.h"

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

// --quiet printed the whole summary table (10 lines): now errors and the done line only.
TEST_F(ProgressOutputTest, QuietPrintsOnlyTheDoneLine) {
  SlowUsers();
  auto run = Start(Flags({"--quiet", "--progress-interval", "0.2", "--resume"}));
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  const std::vector<std::string> lines = Lines(Stderr());
  ASSERT_EQ(lines.size(), 1u) << Stderr();
  EXPECT_EQ(lines.back().rfind("done: 120 users, 120 ok", 0), 0u) << Stderr();
  EXPECT_TRUE(JsonHas(Report(), "/verdict/bound")) << "the figures stay in --report";
}

TEST_F(ProgressOutputTest, QuietStillPrintsErrors) {
  dir_.Write("users.jsonl", "{\"id\": \"x\"}\n");
  auto run = Start({"--quiet"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 1) << Stderr();
  EXPECT_EQ(Stderr().rfind("coordinator: error: ", 0), 0u) << Stderr();
}

// An interrupted run's done line did not say it was interrupted.
TEST_F(ProgressOutputTest, AnInterruptedRunsDoneLineSaysSo) {
  Users(200, [](int) { return "?latency=200"; });
  auto run = Start({"--concurrency", "4", "--grace", "0"});
  ASSERT_TRUE(WaitFor([&] { return ManifestLines() >= 4; }, 60)) << Stderr();
  ::kill(run->pid(), SIGTERM);
  ASSERT_EQ(ExitCode(run->Wait(60)), 1) << Stderr();
  const std::vector<std::string> lines = Lines(Stderr());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("done: 200 users, ", 0), 0u) << Stderr();
  EXPECT_NE(lines.back().find(" retries); interrupted, "), std::string::npos) << lines.back();
  EXPECT_NE(lines.back().find(" left"), std::string::npos) << lines.back();
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
    const double t = JsonDouble(sample, "/t");
    EXPECT_GE(t, last_t) << sample;
    last_t = t;
    EXPECT_GE(JsonDouble(sample, "/budget_used"), 0) << sample;
    EXPECT_GE(JsonDouble(sample, "/images_waiting_for_workers_s"), 0) << sample;
  }
  EXPECT_EQ(JsonAt(samples.back(), "/ok"), "120") << samples.back();
}

// JSON logs carried only time, level and message: now the event's kind and its figures, from
// the same fields as the text line; the summary and the done line are objects too.
TEST_F(ProgressOutputTest, JsonLogsAreOneObjectALineWithTheEventsFields) {
  Users(3);
  auto run = Start({"--resume", "--log-format", "json"});  // an empty folder: an info note
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  bool note = false;
  std::string done;
  for (const std::string& line : Lines(Stderr())) {
    ASSERT_EQ(line.front(), '{') << line;
    ASSERT_EQ(line.back(), '}') << line;
    EXPECT_TRUE(JsonHas(line, "/time")) << line;
    EXPECT_TRUE(JsonHas(line, "/event")) << line;
    note |= JsonAt(line, "/level") == "info" &&
            JsonAt(line, "/message").find("no earlier run to resume") != std::string::npos;
    if (JsonAt(line, "/event") == "done") done = line;
  }
  EXPECT_TRUE(note) << Stderr();
  EXPECT_EQ(JsonAt(done, "/message").rfind("done: 3 users, 3 ok, 0 failed in ", 0), 0u) << done;
  for (const auto& [pointer, value] :
       std::vector<std::pair<const char*, const char*>>{{"/users", "3"},
                                                        {"/ok", "3"},
                                                        {"/failed", "0"},
                                                        {"/requests", "3"},
                                                        {"/retries", "0"},
                                                        {"/interrupted", "false"}}) {
    EXPECT_EQ(JsonAt(done, pointer), value) << pointer << " in " << done;
  }
  EXPECT_GT(JsonDouble(done, "/wall_s"), 0) << done;
}

// A worker event in a JSON log names the worker in a field of its own.
TEST_F(ProgressOutputTest, JsonWorkerEventsCarryTheWorkerId) {
  Users(2);
  auto run = Start(
      {"--filter", "sleep:1", "--workers", "1", "--log-format", "json", "--log-level", "debug"});
  ASSERT_EQ(ExitCode(run->Wait(60)), 0) << Stderr();
  std::string joined;
  for (const std::string& line : Lines(Stderr())) {
    if (JsonAt(line, "/event") == "worker_joined") joined = line;
  }
  ASSERT_FALSE(joined.empty()) << Stderr();
  EXPECT_EQ(JsonAt(joined, "/level"), "debug") << joined;
  const std::string worker = JsonAt(joined, "/worker");
  EXPECT_EQ(JsonAt(joined, "/message").rfind("worker " + worker + " joined", 0), 0u) << joined;
  EXPECT_GT(JsonInt(joined, "/pid"), 0) << joined;
  EXPECT_GT(JsonInt(joined, "/capacity"), 0) << joined;
}

// Events built with EventBuilder: the text and the fields come from the same calls.
TEST(EventBuilderTest, TheMessageIsMadeOfTheFields) {
  const Event e = EventBuilder(LogLevel::kWarning, "worker_lost")
                      .Text("lost worker ")
                      .Field("worker", "w1")
                      .Text(" (pid ")
                      .Field("pid", 42u)
                      .Text(") after ")
                      .Field("seconds", 1.5, "%.1f")
                      .Text(" s")
                      .Hidden("local", true)
                      .Done();
  EXPECT_EQ(e.kind, "worker_lost");
  EXPECT_EQ(e.message, "lost worker w1 (pid 42) after 1.5 s");
  ASSERT_EQ(e.fields.size(), 4u);
  EXPECT_EQ(e.fields[0].key, "worker");
  EXPECT_FALSE(e.fields[0].literal);
  EXPECT_EQ(e.fields[1].value, "42");
  EXPECT_TRUE(e.fields[1].literal);
  EXPECT_EQ(e.fields[2].value, "1.5");
  EXPECT_EQ(e.fields[3].value, "true");
}

// Runs the coordinator on `users` with stderr on a pseudo-terminal `columns` wide (TERM=xterm)
// and returns what it wrote there.
std::string RunOnTerminal(const std::vector<std::string>& args, unsigned short columns) {
  int master = -1, slave = -1;
  winsize size{};
  size.ws_col = columns;
  size.ws_row = 24;
  if (::openpty(&master, &slave, nullptr, nullptr, &size) != 0) return "openpty failed";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, slave, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, master);
  posix_spawn_file_actions_addclose(&actions, slave);
  std::vector<std::string> env = {"TERM=xterm", "PATH=/usr/bin:/bin"};
  std::vector<char*> raw_args, raw_env;
  std::vector<std::string> argv = args;
  for (std::string& a : argv) raw_args.push_back(a.data());
  raw_args.push_back(nullptr);
  for (std::string& e : env) raw_env.push_back(e.data());
  raw_env.push_back(nullptr);
  pid_t pid = -1;
  const int spawned =
      posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, raw_args.data(), raw_env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(slave);
  std::string drawn;
  // Until the last writer closes the terminal (EIO); bounded by a generous poll timeout.
  for (char buffer[4096]; spawned == 0;) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 60'000) <= 0) break;
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;
    drawn.append(buffer, static_cast<size_t>(n));
  }
  ::close(master);
  if (pid > 0) {
    ::kill(pid, SIGKILL);  // a no-op once it has exited
    ::waitpid(pid, nullptr, 0);
  }
  return drawn;
}

// The redraws in `tty`: what follows each "\r" up to its "\x1b[K" on the same line.
std::vector<std::string> Redraws(const std::string& tty) {
  std::vector<std::string> lines;
  for (size_t at = tty.find('\r'); at != std::string::npos; at = tty.find('\r', at + 1)) {
    const size_t end = tty.find("\x1b[K", at + 1);
    if (end == std::string::npos) break;
    const std::string line = tty.substr(at + 1, end - at - 1);
    if (!line.empty() && line.find_first_of("\r\n") == std::string::npos) lines.push_back(line);
  }
  return lines;
}

// The line was 74-150 characters and not cut to the terminal's width, so every redraw on an
// 80-column terminal left a wrapped line behind.
TEST_F(ProgressOutputTest, TheLineFitsTheTerminalsWidth) {
  SlowUsers();
  for (unsigned short columns : {40, 80}) {
    SCOPED_TRACE(columns);
    const std::string out = (dir_ / ("out" + std::to_string(columns))).string();
    const std::string tty =
        RunOnTerminal({kCoordinatorBinary, "--input", (dir_ / "users.jsonl").string(), "--output",
                       out, "--allow-private-networks", "--concurrency", "12"},
                      columns);
    const std::vector<std::string> redraws = Redraws(tty);
    EXPECT_GE(redraws.size(), 3u) << tty;
    for (const std::string& line : redraws) {
      EXPECT_LE(line.size(), columns) << line;
      EXPECT_NE(line.find(" users"), std::string::npos) << line;
    }
    EXPECT_NE(tty.find("done: 120 users, 120 ok"), std::string::npos) << tty;
  }
}

// 4,200 of 10,000 users done after 42 s, with something in every gauge.
ProgressSample Midway() {
  ProgressSample p;
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
  return p;
}

TEST(ProgressLineTest, ShowsCountsRateEtaAndGauges) {
  const std::string line = TerminalOutput::Line(Midway(), 100);
  EXPECT_NE(line.find(" 42% 4200/10.0k users, 3 failed [00:42<00:58, 100 users/s]"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("downloads 64+10 waiting"), std::string::npos) << line;
  EXPECT_NE(line.find("jobs 4 on 2 workers"), std::string::npos) << line;
  EXPECT_NE(line.find("memory 12.0/512 MiB"), std::string::npos) << line;
}

TEST(ProgressLineTest, ANarrowWidthDropsTheLeastImportantPartsFirst) {
  const ProgressSample p = Midway();
  const std::string full = TerminalOutput::Line(p, 100);
  for (size_t width : {size_t{0}, size_t{10}, size_t{30}, size_t{39}, size_t{79}, full.size()}) {
    EXPECT_LE(TerminalOutput::Line(p, 100, width).size(), width) << width;
  }
  EXPECT_EQ(TerminalOutput::Line(p, 100, full.size()), full);
  const std::string at_90 = TerminalOutput::Line(p, 100, 90);
  EXPECT_EQ(at_90.find("memory"), std::string::npos) << at_90;
  EXPECT_EQ(at_90.find("jobs"), std::string::npos) << at_90;
  EXPECT_NE(at_90.find("users/s] downloads 64+10 waiting"), std::string::npos) << at_90;
  const std::string at_39 = TerminalOutput::Line(p, 100, 39);
  EXPECT_EQ(at_39, " 42% 4200/10.0k users, 3 failed") << at_39;
}

}  // namespace
}  // namespace pixelmill::testing
