// WorkerLedger: per-worker figures across joins, results and leaves, and its bounded size.
#include "coordinator/workers/worker_ledger.h"

#include <string>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TimePoint LedgerSecond(int s) { return TimePoint(std::chrono::seconds(s)); }

TEST(WorkerLedgerTest, CountsResultsAndConnectedTimeAcrossReconnections) {
  WorkerLedger ledger;
  ledger.Joined("w1 key:abcdefgh", "host-a", "abcdefgh", true, LedgerSecond(0));
  ledger.Result("w1 key:abcdefgh", true, 2000, 100, std::chrono::milliseconds(30));
  ledger.Result("w1 key:abcdefgh", false, 1000, 0, std::chrono::milliseconds(10));
  ledger.Left("w1 key:abcdefgh", LedgerSecond(10));
  ledger.Joined("w1 key:abcdefgh", "host-a", "abcdefgh", true, LedgerSecond(20));
  ledger.Joined("local:1", "here", "", false, LedgerSecond(5));
  ledger.Result("nobody", true, 5, 5, std::chrono::milliseconds(1));  // never joined: ignored
  const std::vector<WorkerFigures> rows = ledger.Rows(LedgerSecond(25));
  ASSERT_EQ(rows.size(), 2u);
  const WorkerFigures& w = rows[0];
  EXPECT_EQ(w.host, "host-a");
  EXPECT_EQ(w.key, "abcdefgh");
  EXPECT_TRUE(w.remote);
  EXPECT_EQ(w.jobs_ok, 1u);
  EXPECT_EQ(w.jobs_failed, 1u);
  EXPECT_EQ(w.cpu_micros, 3000u);
  EXPECT_EQ(w.result_bytes, 100u);
  EXPECT_EQ(w.round_trips, std::chrono::milliseconds(40));
  EXPECT_EQ(w.connected, std::chrono::seconds(15)) << "10 s, then 5 s so far";
  EXPECT_EQ(w.connections, 2u);
  EXPECT_FALSE(rows[1].remote);
  EXPECT_EQ(rows[1].connected, std::chrono::seconds(20));
}

TEST(WorkerLedgerTest, WorkersBeyondTheLimitShareOneRow) {
  WorkerLedger ledger;
  const size_t extra = 5;
  for (size_t i = 0; i < WorkerLedger::kMaxRows + extra; ++i) {
    const std::string name = "w" + std::to_string(i);
    ledger.Joined(name, "h", "", false, LedgerSecond(0));
    ledger.Result(name, true, 1, 1, std::chrono::milliseconds(1));
  }
  const std::vector<WorkerFigures> rows = ledger.Rows(LedgerSecond(1));
  ASSERT_EQ(rows.size(), WorkerLedger::kMaxRows);
  EXPECT_EQ(rows.back().worker, "(others)");
  EXPECT_EQ(rows.back().jobs_ok, extra + 1);
  EXPECT_EQ(rows[0].jobs_ok, 1u);
}

}  // namespace
}  // namespace pixelmill
