// The run report: its JSON and a write that never goes through a planted symlink (the new
// keys and the summary table: verdict_test.cc; percentiles: common/histogram_test.cc).
#include "coordinator/report.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace pixelmill {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

TEST(ReportTest, DownloadPercentilesComeFromTheLatencyHistogram) {
  PipelineResult run;
  for (uint64_t us : {50, 10, 40, 20, 30}) run.downloads.latency_us.Record(us);  // exact buckets
  const std::string report = BuildReport(LoadStats{}, run);
  EXPECT_NE(report.find(R"("p50_ms":0.03,"p90_ms":0.05,"p99_ms":0.05})"), std::string::npos)
      << report;
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
  EXPECT_NE(ReadFile(path).find("\"users_total\":3"), std::string::npos) << ReadFile(path);
}

TEST(ReportTest, MemoryHoldsTheBudgetAndThePeakRss) {
  PipelineResult run;
  run.budget_limit = 16 << 20;
  run.budget_peak = 1234;
  run.peak_rss_bytes = 56789012;
  const std::string report = BuildReport(LoadStats{}, run);
  EXPECT_NE(report.find("\"memory\":{\"budget_bytes\":16777216,\"peak_image_bytes\":1234,"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("\"peak_rss_bytes\":56789012}"), std::string::npos) << report;
}

TEST(ReportTest, WorkersCountTheImageWarnings) {
  PipelineResult run;
  run.dispatch.image_warnings = 7;
  const std::string report = BuildReport(LoadStats{}, run);
  EXPECT_NE(report.find("\"image_warnings\":7"), std::string::npos) << report;
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
  EXPECT_EQ(s.code(), "io");
  EXPECT_NE(s.message().find("cannot write report"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace pixelmill
