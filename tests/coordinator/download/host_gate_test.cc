// HostGate policy without sockets: per-host limits, pauses after connection failures and
// Retry-After, probes, hosts declared down and found back.
#include "coordinator/download/host_gate.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

// A point `ms` milliseconds into the run.
TimePoint AtMs(int ms) { return TimePoint(std::chrono::milliseconds(ms)); }

HostGateOptions Small() {
  HostGateOptions o;
  o.per_host = 2;
  o.pause_after = 3;
  o.first_pause_ms = 100;
  o.failed_probes = 2;
  o.down_recheck_ms = 1000;
  return o;
}

std::vector<uint32_t> Take(HostGate& gate, int now_ms, size_t max = 100) {
  std::vector<uint32_t> out;
  gate.TakeReady(AtMs(now_ms), max, out);
  return out;
}

TEST(HostGateTest, KeepsEachHostWithinItsLimitAndTheRestWaiting) {
  HostGate gate(Small());
  for (uint32_t id = 0; id < 5; ++id) EXPECT_FALSE(gate.Push("a", id, AtMs(0)));
  EXPECT_FALSE(gate.Push("b", 10, AtMs(0)));
  const auto first = Take(gate, 0);
  EXPECT_EQ(first.size(), 3u);  // two of a, one of b
  EXPECT_EQ(gate.waiting(), 3u);
  EXPECT_TRUE(Take(gate, 0).empty());  // a is at its limit
  gate.Finished("a", first[0], HostGate::Outcome::kOk, std::nullopt, AtMs(1));
  EXPECT_EQ(Take(gate, 1), std::vector<uint32_t>{2});
}

TEST(HostGateTest, GlobalMaxIsRespected) {
  HostGate gate(Small());
  for (uint32_t id = 0; id < 4; ++id)
    EXPECT_FALSE(gate.Push("h" + std::to_string(id), id, AtMs(0)));
  EXPECT_EQ(Take(gate, 0, 3).size(), 3u);
  EXPECT_EQ(Take(gate, 0, 3).size(), 1u);
}

TEST(HostGateTest, ConnectionFailuresPauseTheHostThenOneProbeGoes) {
  HostGate gate(Small());
  for (uint32_t id = 0; id < 10; ++id) EXPECT_FALSE(gate.Push("dead", id, AtMs(0)));
  // Three connection failures in a row pause the host: nothing starts during the pause.
  for (int i = 0; i < 3; ++i) {
    auto ready = Take(gate, 0, 1);
    ASSERT_EQ(ready.size(), 1u);
    gate.Finished("dead", ready[0], HostGate::Outcome::kConnectFailed, std::nullopt, AtMs(0));
  }
  EXPECT_TRUE(gate.Paused("dead"));
  EXPECT_TRUE(Take(gate, 50).empty());
  ASSERT_TRUE(gate.NextWake().has_value());
  EXPECT_EQ(*gate.NextWake(), AtMs(100));
  // After the pause exactly one probe may go, even though the limit is 2.
  const auto probe = Take(gate, 100);
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_TRUE(Take(gate, 100).empty());
  // The probe succeeds: the host is open again at its full limit.
  gate.Finished("dead", probe[0], HostGate::Outcome::kOk, std::nullopt, AtMs(110));
  EXPECT_FALSE(gate.Paused("dead"));
  EXPECT_EQ(Take(gate, 110).size(), 2u);
}

TEST(HostGateTest, AHostWhoseProbesFailIsDownAndFailsItsUsersAtOnce) {
  HostGate gate(Small());
  for (uint32_t id = 0; id < 20; ++id) EXPECT_FALSE(gate.Push("dead", id, AtMs(0)));
  for (int i = 0; i < 3; ++i) {
    auto ready = Take(gate, 0, 1);
    ASSERT_EQ(ready.size(), 1u);
    gate.Finished("dead", ready[0], HostGate::Outcome::kConnectFailed, std::nullopt, AtMs(0));
  }
  // Probe 1 fails: paused again, twice as long.
  auto probe = Take(gate, 100);
  ASSERT_EQ(probe.size(), 1u);
  gate.Finished("dead", probe[0], HostGate::Outcome::kConnectFailed, std::nullopt, AtMs(100));
  EXPECT_TRUE(Take(gate, 250).empty());
  EXPECT_EQ(*gate.NextWake(), AtMs(300));
  // Probe 2 fails: the host is down, every waiting download is handed back to fail.
  probe = Take(gate, 300);
  ASSERT_EQ(probe.size(), 1u);
  gate.Finished("dead", probe[0], HostGate::Outcome::kConnectFailed, std::nullopt, AtMs(300));
  auto failed = gate.TakeFailed();
  EXPECT_EQ(failed.size(), 15u);
  EXPECT_EQ(gate.waiting(), 0u);
  EXPECT_EQ(failed[0].second, "host down: 5 consecutive connection failures");
  // New downloads of a down host fail at once...
  auto refused = gate.Push("dead", 99, AtMs(400));
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->find("host down"), std::string::npos);
  // ...until the recheck time, when one becomes a probe; its success reopens the host.
  EXPECT_FALSE(gate.Push("dead", 100, AtMs(1400)));
  EXPECT_EQ(Take(gate, 1400), std::vector<uint32_t>{100});
  gate.Finished("dead", 100, HostGate::Outcome::kOk, std::nullopt, AtMs(1410));
  EXPECT_FALSE(gate.Push("dead", 101, AtMs(1420)));
  EXPECT_FALSE(gate.Paused("dead"));
}

TEST(HostGateTest, RetryAfterPausesTheWholeHostOnceWithoutAProbe) {
  HostGate gate(Small());
  for (uint32_t id = 0; id < 6; ++id) EXPECT_FALSE(gate.Push("busy", id, AtMs(0)));
  const auto both = Take(gate, 0);
  ASSERT_EQ(both.size(), 2u);
  gate.Finished("busy", both[0], HostGate::Outcome::kOk, 500, AtMs(10));
  EXPECT_TRUE(gate.Paused("busy"));
  EXPECT_TRUE(Take(gate, 400).empty());
  EXPECT_EQ(Take(gate, 510).size(), 1u);  // the one still on the wire holds the other place
  gate.Finished("busy", both[1], HostGate::Outcome::kOk, std::nullopt, AtMs(520));
  EXPECT_EQ(Take(gate, 520).size(), 1u);
}

TEST(HostGateTest, SuccessResetsTheFailureCount) {
  HostGate gate(Small());
  for (uint32_t id = 0; id < 20; ++id) EXPECT_FALSE(gate.Push("flaky", id, AtMs(0)));
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 2; ++i) {
      auto ready = Take(gate, 0, 1);
      ASSERT_EQ(ready.size(), 1u);
      gate.Finished("flaky", ready[0], HostGate::Outcome::kConnectFailed, std::nullopt, AtMs(0));
    }
    auto ready = Take(gate, 0, 1);
    ASSERT_EQ(ready.size(), 1u);
    gate.Finished("flaky", ready[0], HostGate::Outcome::kOk, std::nullopt, AtMs(0));
    EXPECT_FALSE(gate.Paused("flaky"));
  }
}

// Downloads sent before a pause that fail while the host is probing are not probes: only the
// probe's own failure counts towards declaring the host down.
TEST(HostGateTest, OnlyTheProbeCountsAsAProbe) {
  HostGateOptions options = Small();
  options.per_host = 8;
  HostGate gate(options);
  for (uint32_t id = 0; id < 20; ++id) EXPECT_FALSE(gate.Push("slow", id, AtMs(0)));
  const auto sent = Take(gate, 0);
  ASSERT_EQ(sent.size(), 8u);
  for (int i = 0; i < 3; ++i) {
    gate.Finished("slow", sent[i], HostGate::Outcome::kConnectFailed, std::nullopt, AtMs(0));
  }
  EXPECT_TRUE(gate.Paused("slow"));
  // The pause ends while five earlier downloads are still on the wire; they fail one by one.
  EXPECT_TRUE(Take(gate, 100).empty()) << "no probe while earlier downloads are out";
  for (int i = 3; i < 8; ++i) {
    gate.Finished("slow", sent[i], HostGate::Outcome::kConnectFailed, std::nullopt, AtMs(100));
  }
  EXPECT_TRUE(gate.TakeFailed().empty()) << "declared down without a probe";
  const auto probe = Take(gate, 100);
  ASSERT_EQ(probe.size(), 1u);
  gate.Finished("slow", probe[0], HostGate::Outcome::kOk, std::nullopt, AtMs(110));
  EXPECT_FALSE(gate.Paused("slow"));
}

// --rate: 10 a second with a bucket of 3, per_host high enough not to matter.
HostGateOptions Rated() {
  HostGateOptions o;
  o.per_host = 100;
  o.rate = 10;
  o.burst = 3;
  return o;
}

// Takes and finishes (ok) whatever may start at `ms`; returns how many started.
size_t Drain(HostGate& gate, int ms, const std::string& host = "api") {
  const auto ids = Take(gate, ms);
  for (uint32_t id : ids) gate.Finished(host, id, HostGate::Outcome::kOk, std::nullopt, AtMs(ms));
  return ids.size();
}

TEST(HostGateTest, RateLetsABurstGoThenOneATokenAndWakesForTheNext) {
  HostGate gate(Rated());
  for (uint32_t id = 0; id < 20; ++id) EXPECT_FALSE(gate.Push("api", id, AtMs(0)));
  EXPECT_EQ(Drain(gate, 0), 3u) << "the bucket's burst";
  EXPECT_EQ(Drain(gate, 0), 0u);
  ASSERT_TRUE(gate.NextWake());
  EXPECT_GE(*gate.NextWake(), AtMs(100)) << "the next token, 1/rate later, never before";
  EXPECT_LE(*gate.NextWake(), AtMs(100) + std::chrono::microseconds(2));
  EXPECT_EQ(Drain(gate, 99), 0u);
  EXPECT_EQ(Drain(gate, 100), 1u);
  EXPECT_EQ(Drain(gate, 350), 2u) << "2.5 tokens accrued: two requests";
  // Over one second of steady draining, `rate` requests go, not more.
  size_t sent = 0;
  for (int ms = 351; ms <= 1350; ++ms) sent += Drain(gate, ms);
  EXPECT_EQ(sent, 10u);
  EXPECT_GT(gate.throttle_times().by_rate_s, 1.0);
  EXPECT_EQ(gate.throttle_times().by_server_s, 0);
}

TEST(HostGateTest, RateIsPerHostAndRetriesTakeTokensToo) {
  HostGate gate(Rated());
  for (uint32_t id = 0; id < 4; ++id) EXPECT_FALSE(gate.Push("a", id, AtMs(0)));
  for (uint32_t id = 10; id < 14; ++id) EXPECT_FALSE(gate.Push("b", id, AtMs(0)));
  const auto first = Take(gate, 0);
  EXPECT_EQ(first.size(), 6u) << "three of each host";
  for (uint32_t id : first) {
    gate.Finished(id < 10 ? "a" : "b", id, HostGate::Outcome::kOk, std::nullopt, AtMs(0));
  }
  EXPECT_FALSE(gate.Push("a", 0, AtMs(0), /*first=*/true));  // a retry of a's first download
  auto next = Take(gate, 100);
  std::sort(next.begin(), next.end());
  EXPECT_EQ(next, (std::vector<uint32_t>{0, 13}))
      << "one token each; a's goes to its retry at the head of its queue";
}

TEST(HostGateTest, AServerThatPushesBackHalvesTheRateThenItRecovers) {
  HostGate gate(Rated());
  for (uint32_t id = 0; id < 200; ++id) EXPECT_FALSE(gate.Push("api", id, AtMs(0)));
  const auto burst = Take(gate, 0);
  ASSERT_EQ(burst.size(), 3u);
  gate.Finished("api", burst[0], HostGate::Outcome::kOk, std::nullopt, AtMs(0), true);  // 429
  EXPECT_DOUBLE_EQ(gate.RateOf("api"), 5);
  gate.Finished("api", burst[1], HostGate::Outcome::kOk, std::nullopt, AtMs(0), true);
  gate.Finished("api", burst[2], HostGate::Outcome::kOk, std::nullopt, AtMs(0), true);
  EXPECT_DOUBLE_EQ(gate.RateOf("api"), 1.25);
  EXPECT_EQ(gate.throttle_times().server_slowdowns, 3u);
  EXPECT_EQ(Drain(gate, 700), 0u) << "at 1.25 a second the next token is 800 ms away";
  EXPECT_EQ(Drain(gate, 801), 1u);
  for (int ms = 801; ms < 60000 && gate.RateOf("api") < 10; ms += 10) Drain(gate, ms);
  EXPECT_DOUBLE_EQ(gate.RateOf("api"), 10) << "successes bring the flag's rate back";
  for (int ms = 100000; ms < 104000; ms += 100) {
    for (uint32_t id : Take(gate, ms)) {
      gate.Finished("api", id, HostGate::Outcome::kOk, std::nullopt, AtMs(ms), true);
    }
  }
  EXPECT_DOUBLE_EQ(gate.RateOf("api"), 10.0 / 16) << "never below rate / 16";
}

TEST(HostGateTest, RetryAfterTimeIsCountedForTheServer) {
  HostGate gate(Rated());
  EXPECT_FALSE(gate.Push("api", 1, AtMs(0)));
  ASSERT_EQ(Take(gate, 0).size(), 1u);
  gate.Finished("api", 1, HostGate::Outcome::kOk, 2000, AtMs(0), true);
  EXPECT_DOUBLE_EQ(gate.throttle_times().by_server_s, 2.0);
}

TEST(HostGateTest, WithoutARateNothingIsThrottled) {
  HostGate gate(Small());
  for (uint32_t id = 0; id < 2; ++id) EXPECT_FALSE(gate.Push("a", id, AtMs(0)));
  EXPECT_EQ(Take(gate, 0).size(), 2u);
  EXPECT_FALSE(gate.NextWake());
  EXPECT_EQ(gate.RateOf("a"), 0);
}

}  // namespace
}  // namespace pixelmill
