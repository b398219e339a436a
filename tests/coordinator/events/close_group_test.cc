// CloseGroup on a real libuv loop: the callback runs once, only after every member (libuv
// handles and plain callbacks) has closed and the group was sealed.
#include "coordinator/events/close_group.h"

#include <uv.h>

#include <functional>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(CloseGroupTest, RunsOnceAfterTheLastMemberClosed) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t a, b;
  uv_timer_init(&loop, &a);
  uv_timer_init(&loop, &b);
  CloseGroup group;
  int done = 0;
  group.Start([&] { ++done; });
  group.Close(&a);
  group.Close(&b);
  std::function<void()> other = group.Member();
  group.Seal();
  EXPECT_EQ(done, 0) << "handles are released by the loop, later";
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(done, 0) << "a member is still open";
  other();
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(group.done());
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(CloseGroupTest, AnEmptyGroupIsDoneWhenSealed) {
  CloseGroup group;
  int done = 0;
  group.Start([&] { ++done; });
  group.Seal();
  EXPECT_EQ(done, 1);
}

}  // namespace
}  // namespace pixelmill
