// The image API fixture's profile (server_profile.h): what GET /control sets, how a mix picks
// faults, and what GET /stats counts. Pure planner code, no sockets.
#include "tests/support/server_profile.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/fault_plan.h"

namespace pixelmill::fixture {
namespace {

Request Get(std::string target) {
  Request request;
  request.method = "GET";
  request.target = target;
  const size_t q = target.find('?');
  request.path = target.substr(0, q);
  request.query = q == std::string::npos ? "" : target.substr(q + 1);
  return request;
}

Planner ControlledPlanner() {
  PlannerConfig config;
  config.control = true;
  return Planner(config);
}

TEST(ServerProfileTest, ControlSetsLatencyAndRefusesNonsenseUnchanged) {
  Planner planner = ControlledPlanner();
  ResponsePlan set = planner.Plan(Get("/control?latency_ms=40&mix=5xx:2.5,reset:1"));
  EXPECT_EQ(set.status, 200);
  EXPECT_NE(set.text.find("\"latency_ms\":40"), std::string::npos) << set.text;
  EXPECT_NE(set.text.find("\"5xx\":2.5"), std::string::npos) << set.text;
  EXPECT_EQ(planner.Plan(Get("/img/1.jpg?latency=0")).latency_ms, 0u);  // a query still wins
  for (const char* bad :
       {"/control?mix=bogus:1", "/control?mix=5xx:60,reset:50", "/control?mix=5xx",
        "/control?mix=5xx:1.234", "/control?latency_ms=x", "/control?unknown=1"}) {
    ResponsePlan refused = planner.Plan(Get(bad));
    EXPECT_EQ(refused.status, 400) << bad;
  }
  // Unchanged by the refusals: 40 ms for a query-less image that drew no fault.
  for (int id = 0; id < 50; ++id) {
    ResponsePlan plan = planner.Plan(Get("/img/" + std::to_string(id) + ".jpg"));
    if (plan.status == 200 && plan.delivery == Delivery::kNormal) {
      EXPECT_EQ(plan.latency_ms, 40u);
    }
  }
}

TEST(ServerProfileTest, WithoutControlTheEndpointsAreOrdinaryNotFound) {
  Planner planner{PlannerConfig{}};
  EXPECT_EQ(planner.Plan(Get("/control?latency_ms=1")).status, 404);
  EXPECT_EQ(planner.Plan(Get("/stats")).status, 404);
}

TEST(ServerProfileTest, MixPicksItsShareStickilyAndStatsCountIt) {
  Planner planner = ControlledPlanner();
  ASSERT_EQ(planner.Plan(Get("/control?mix=5xx:20,429:10&seed=7")).status, 200);
  constexpr int kImages = 5000;
  int failed = 0, throttled = 0;
  for (int id = 0; id < kImages; ++id) {
    const std::string path = "/img/" + std::to_string(id) + ".jpg";
    const int status = planner.Plan(Get(path)).status;
    failed += status == 503;
    throttled += status == 429;
    const int again = planner.Plan(Get(path)).status;
    if (status == 503) {
      EXPECT_EQ(again, 503) << path;  // the same fault on a retry
    }
    if (status == 429) {
      EXPECT_EQ(again, 200) << path;  // 429 answers once
    }
  }
  // 20 % and 10 % of 5000, within 5 standard deviations.
  EXPECT_NEAR(failed, 1000, 5 * 28);
  EXPECT_NEAR(throttled, 500, 5 * 21);
  const std::string stats = planner.Plan(Get("/stats")).text;
  EXPECT_NE(stats.find("\"requests\":" + std::to_string(2 * kImages)), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"5xx\":" + std::to_string(2 * failed)), std::string::npos) << stats;
  // A new /control starts the counts again, and mix= (empty) clears the mix.
  ASSERT_EQ(planner.Plan(Get("/control?mix=")).status, 200);
  EXPECT_EQ(planner.Plan(Get("/img/1.jpg")).status, 200);
  EXPECT_NE(planner.Plan(Get("/stats")).text.find("\"requests\":1,"), std::string::npos);
}

TEST(ServerProfileTest, TailDelaysItsShareOfResponses) {
  Planner planner = ControlledPlanner();
  ASSERT_EQ(planner.Plan(Get("/control?latency_ms=10&tail_pct=10&tail_ms=1000")).status, 200);
  int slow = 0;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t ms = planner.Plan(Get("/img/1.jpg")).latency_ms;
    EXPECT_TRUE(ms == 10 || ms == 1010) << ms;
    slow += ms == 1010;
  }
  EXPECT_NEAR(slow, 200, 5 * 14);
}

}  // namespace
}  // namespace pixelmill::fixture
