// The run report: its JSON and a write that never goes through a planted symlink (the new
// keys and the summary table: verdict_test.cc; percentiles: tests/common/base/histogram_test.cc).
#include "coordinator/report/report.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/json_at.h"
#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::JsonAt;
using testing::JsonDouble;
using testing::ReadFile;
using testing::TempDir;

TEST(ReportTest, DownloadPercentilesComeFromTheLatencyHistogram) {
  PipelineResult run;
  for (uint64_t us : {50, 10, 40, 20, 30}) run.downloads.latency_us.Record(us);  // exact buckets
  const std::string report = BuildReport(LoadStats{}, run);
  EXPECT_DOUBLE_EQ(JsonDouble(report, "/download/p50_ms"), 0.03) << report;
  EXPECT_DOUBLE_EQ(JsonDouble(report, "/download/p90_ms"), 0.05) << report;
  EXPECT_DOUBLE_EQ(JsonDouble(report, "/download/p99_ms"), 0.05) << report;
}

// The report lacked the start time, the version and the options; a URL's credentials and
// query values and a --proxy's password must not reach it.
TEST(ReportTest, TheHeaderSaysWhoRanWhatWhenWithSecretsRedacted) {
  Options options;
  options.filter_spec.text = "blur:2";
  options.download.proxy = "http://user:hunter2@proxy.example:3128";
  options.download.concurrency = 17;
  options.max_memory = 3ull << 29;
  ReportContext context;
  context.started_at = "2026-01-02T03:04:05.678Z";
  context.command_line = {"coordinator",
                          "--proxy",
                          "alice:s3cret@proxy:3128",
                          "--proxy=http://bob:pa55@p:1",
                          "--input",
                          "https://h/u.jsonl?token=abc",
                          "--filter",
                          "blur:2"};
  context.options = &options;
  const std::string report = BuildReport(LoadStats{}, PipelineResult{}, {}, context);
  for (const auto& [pointer, value] : std::vector<std::pair<const char*, const char*>>{
           {"/pixelmill", "0.1.0"},
           {"/started_at", "2026-01-02T03:04:05.678Z"},
           {"/command_line",
            R"(["coordinator","--proxy","alice:***@proxy:3128",)"
            R"("--proxy=http://bob:***@p:1","--input","https://h/u.jsonl?token=***",)"
            R"("--filter","blur:2"])"},
           {"/options/filter", "blur:2"},
           {"/options/format", "input"},
           {"/options/concurrency", "17"},
           {"/options/proxy", "http://user:***@proxy.example:3128"},
           {"/options/max_memory", "1610612736"},
       }) {
    EXPECT_EQ(JsonAt(report, pointer), value) << pointer << " in:\n" << report;
  }
  for (const char* secret : {"hunter2", "s3cret", "pa55", "abc"}) {
    EXPECT_EQ(report.find(secret), std::string::npos) << secret << " in " << report;
  }
}

// Filter CPU and end to end lacked p90; every duration is in seconds, the old millisecond
// keys kept beside them.
TEST(ReportTest, LatenciesHaveP90InSecondsAndKeepTheirMillisecondKeys) {
  PipelineResult run;
  for (uint64_t us : {50, 10, 40, 20, 30}) {  // exact buckets
    run.filter_cpu_us.Record(us);
    run.end_to_end_us.Record(us);
  }
  const std::string report = BuildReport(LoadStats{}, run);
  for (const std::string section : {"/filter_cpu", "/end_to_end"}) {
    EXPECT_EQ(JsonAt(report, section + "/count"), "5") << section << " in " << report;
    for (const auto& [key, value] :
         std::vector<std::pair<const char*, double>>{{"/p50_s", 3e-05},
                                                     {"/p90_s", 5e-05},
                                                     {"/p99_s", 5e-05},
                                                     {"/p50_ms", 0.03},
                                                     {"/p99_ms", 0.05}}) {
      EXPECT_DOUBLE_EQ(JsonDouble(report, section + key), value) << section << key;
    }
  }
  for (const char* key : {"/requests", "/retries", "/ok", "/failed", "/bytes", "/p50_s", "/p90_s",
                          "/p99_s", "/p50_ms", "/p90_ms", "/p99_ms"}) {
    EXPECT_EQ(JsonAt(report, std::string("/download") + key), "0") << key << " in " << report;
  }
  const std::string table = SummaryTable(run);
  EXPECT_NE(table.find("filter CPU   p50 0.000 s, p90 0.000 s, p99 0.000 s a user"),
            std::string::npos)
      << table;
  EXPECT_EQ(table.find(" ms"), std::string::npos) << "one unit for durations:\n" << table;
}

TEST(ReportTest, WritesTheReportWithANewline) {
  TempDir dir;
  LoadStats load;
  load.users = 3;
  PipelineResult run;
  run.ok = 2;
  run.failed = 1;
  const fs::path path = dir / "report.json";
  ASSERT_TRUE(WriteReport(path.string(), load, run).ok());
  EXPECT_EQ(ReadFile(path), BuildReport(load, run) + "\n");
  EXPECT_EQ(JsonAt(ReadFile(path), "/users_total"), "3") << ReadFile(path);
}

TEST(ReportTest, MemoryHoldsTheBudgetAndThePeakRss) {
  PipelineResult run;
  run.budget_limit = 16 << 20;
  run.budget_peak = 1234;
  run.peak_rss_bytes = 56789012;
  const std::string report = BuildReport(LoadStats{}, run);
  EXPECT_EQ(JsonAt(report, "/memory/budget_bytes"), "16777216") << report;
  EXPECT_EQ(JsonAt(report, "/memory/peak_image_bytes"), "1234") << report;
  EXPECT_EQ(JsonAt(report, "/memory/peak_rss_bytes"), "56789012") << report;
}

TEST(ReportTest, WorkersCountTheImageWarnings) {
  PipelineResult run;
  run.dispatch.image_warnings = 7;
  const std::string report = BuildReport(LoadStats{}, run);
  EXPECT_EQ(JsonAt(report, "/workers/image_warnings"), "7") << report;
}

// The old code wrote "<FILE>.tmp" with a plain open: a symlink planted there was followed.
TEST(ReportTest, PlantedSymlinksAtTheReportAndItsOldTempNameAreNotWrittenThrough) {
  TempDir dir;
  const std::string victim = dir.Write("victim", "precious");
  const fs::path path = dir / "report.json";
  fs::create_symlink(victim, dir / "report.json.tmp");
  fs::create_symlink(victim, path);
  ASSERT_TRUE(WriteReport(path.string(), LoadStats{}, PipelineResult{}).ok());
  EXPECT_EQ(ReadFile(victim), "precious");
  EXPECT_FALSE(fs::is_symlink(path));
  EXPECT_EQ(ReadFile(path), BuildReport(LoadStats{}, PipelineResult{}) + "\n");
}

TEST(ReportTest, AnUnwritableReportIsAnIoError) {
  TempDir dir;
  Status s = WriteReport((dir / "missing" / "report.json").string(), LoadStats{}, PipelineResult{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kIo);
  EXPECT_NE(s.message().find("cannot write report"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace pixelmill
