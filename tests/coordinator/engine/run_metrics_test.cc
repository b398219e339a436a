// RunMetrics on virtual time: the budget-full warning after 10 s at a stretch (once, again only
// after the budget had room), the retry-storm warning per 10 s window, stage waits summed between
// samples, and each user's end-to-end time from the start of its download to its line.
#include "coordinator/engine/run_metrics.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/event_log.h"

namespace pixelmill {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RunMetricsTest : public ::testing::Test {
 protected:
  VirtualClock clock_;
  testing::EventLog events_;
  RunMetrics metrics_{clock_, events_};
};

TEST_F(RunMetricsTest, ABudgetFullForTenSecondsIsSaidOnceUntilItHasRoomAgain) {
  metrics_.Watch(true, 64 << 20, 0, 0);
  clock_.Advance(seconds(10) - milliseconds(1));
  metrics_.Watch(true, 64 << 20, 0, 0);
  EXPECT_TRUE(events_.lines.empty()) << "full for just under 10 s";
  clock_.Advance(milliseconds(1));
  metrics_.Watch(true, 64 << 20, 0, 0);
  ASSERT_EQ(events_.lines.size(), 1u);
  EXPECT_NE(events_.lines[0].find("--max-memory 64 MiB) has been full for 10 s"), std::string::npos)
      << events_.lines[0];
  clock_.Advance(seconds(30));
  metrics_.Watch(true, 64 << 20, 0, 0);
  EXPECT_EQ(events_.lines.size(), 1u) << "one line per stretch, not one per pass";
  metrics_.Watch(false, 64 << 20, 0, 0);  // room again: a new stretch starts from zero
  metrics_.Watch(true, 64 << 20, 0, 0);
  clock_.Advance(seconds(9));
  metrics_.Watch(true, 64 << 20, 0, 0);
  EXPECT_EQ(events_.lines.size(), 1u);
  clock_.Advance(seconds(1));
  metrics_.Watch(true, 64 << 20, 0, 0);
  EXPECT_EQ(events_.lines.size(), 2u);
}

TEST_F(RunMetricsTest, ARetryStormIsJudgedOverTenSecondWindows) {
  metrics_.Watch(false, 0, 0, 0);  // the first window opens
  clock_.Advance(seconds(9));
  metrics_.Watch(false, 0, 250, 250);
  EXPECT_TRUE(events_.lines.empty()) << "the window is not over";
  clock_.Advance(seconds(1));
  metrics_.Watch(false, 0, 250, 250);
  ASSERT_EQ(events_.lines.size(), 1u);
  EXPECT_NE(events_.lines[0].find("retry storm: 250 of the last 250 requests"), std::string::npos)
      << events_.lines[0];
  clock_.Advance(seconds(10));
  metrics_.Watch(false, 0, 250 + 1000, 250 + 199);  // under a fifth
  clock_.Advance(seconds(10));
  metrics_.Watch(false, 0, 1250 + 49, 449 + 49);  // under 50 retries
  EXPECT_EQ(events_.lines.size(), 1u);
}

TEST_F(RunMetricsTest, StageWaitsAddTheTimeBetweenSamplesToWhatWaitedAtTheFirst) {
  metrics_.Sample({true, false, false}, 1);
  clock_.Advance(seconds(2));
  metrics_.Sample({false, true, true}, 4);
  clock_.Advance(milliseconds(500));
  metrics_.Sample({}, 2);
  clock_.Advance(seconds(7));
  metrics_.Sample({}, 0);
  const RunFigures figures = metrics_.Figures();
  EXPECT_DOUBLE_EQ(figures.waits.downloads_waiting_s, 2.0);
  EXPECT_DOUBLE_EQ(figures.waits.images_waiting_s, 0.5);
  EXPECT_DOUBLE_EQ(figures.waits.results_waiting_s, 0.5);
  EXPECT_EQ(figures.workers, 4u) << "the most at once";
  EXPECT_DOUBLE_EQ(figures.wall_seconds, 9.5);
}

TEST_F(RunMetricsTest, EndToEndRunsFromTheDownloadsStartToTheLine) {
  clock_.Advance(seconds(3));
  metrics_.DownloadEnded(7, seconds(1));  // started 1 s ago
  clock_.Advance(seconds(2));
  metrics_.LineWritten(7);
  metrics_.LineWritten(8);  // a user whose download failed before it started: not timed
  metrics_.Filtered(1500);
  const RunFigures figures = metrics_.Figures();
  ASSERT_EQ(figures.end_to_end_us.Count(), 1u);
  EXPECT_EQ(figures.end_to_end_us.Max(), 3'000'000u);
  EXPECT_EQ(figures.filter_cpu_us.Max(), 1500u);
  EXPECT_DOUBLE_EQ(figures.wall_seconds, 5.0);
}

}  // namespace
}  // namespace pixelmill
