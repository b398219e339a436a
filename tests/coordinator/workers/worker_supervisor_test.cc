// The supervisor's restart backoff, as a pure function of a slot's quick deaths.
#include "coordinator/workers/worker_supervisor.h"

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

using std::chrono::milliseconds;

TEST(WorkerSupervisorTest, RestartsBackOffFrom50MsDoublingUpTo5s) {
  EXPECT_EQ(RestartDelay(0), milliseconds(50)) << "a worker that had joined restarts soon";
  EXPECT_EQ(RestartDelay(1), milliseconds(100));
  EXPECT_EQ(RestartDelay(4), milliseconds(800));
  EXPECT_EQ(RestartDelay(6), milliseconds(3200));
  EXPECT_EQ(RestartDelay(7), milliseconds(5000));
  EXPECT_EQ(RestartDelay(100), milliseconds(5000));
}

}  // namespace
}  // namespace pixelmill
