// Guarded on a real libuv loop: an exception thrown inside a C callback reaches the loop's
// fatal handler (with where it happened) instead of unwinding through libuv, and the loop goes
// on to close in order.
#include "coordinator/events/callback_guard.h"

#include <uv.h>

#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zmq.hpp>

#include "coordinator/download/downloader.h"
#include "tests/support/closed_port.h"

namespace pixelmill {
namespace {

// A loop whose fatal handler collects "<where>: <what>" in fatal_.
class CallbackGuardTest : public ::testing::Test {
 protected:
  CallbackGuardTest() {
    uv_loop_init(&loop_);
    InstallFatalHandler(loop_, &handler_);
  }
  ~CallbackGuardTest() override { EXPECT_EQ(uv_loop_close(&loop_), 0); }

  uv_loop_t loop_;
  std::vector<std::string> fatal;
  FatalHandler handler_ = [this](const char* where, const char* what) {
    fatal.push_back(std::string(where) + ": " + what);
  };
};

struct TimerCase {
  uv_timer_t timer{};
  int fired = 0;
  int mode = 0;  // 0: zmq error, 1: out of memory, 2: no exception
};

TEST_F(CallbackGuardTest, AnExceptionInALoopCallbackBecomesAFatalErrorAndTheLoopCloses) {
  uv_loop_t& loop = loop_;
  TimerCase cases[3];
  for (int i = 0; i < 3; ++i) {
    cases[i].mode = i;
    uv_timer_init(&loop, &cases[i].timer);
    cases[i].timer.data = &cases[i];
    uv_timer_start(
        &cases[i].timer,
        [](uv_timer_t* t) {
          auto* c = static_cast<TimerCase*>(t->data);
          const bool returned = Guarded(t->loop, "test timer", [&] {
            ++c->fired;
            if (c->mode == 0) throw zmq::error_t();  // errno is whatever it is: any zmq error
            if (c->mode == 1) throw std::bad_alloc();
          });
          EXPECT_EQ(returned, c->mode == 2);
          uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        },
        1, 0);
  }
  EXPECT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  for (const TimerCase& c : cases) EXPECT_EQ(c.fired, 1);
  ASSERT_EQ(fatal.size(), 2u);
  EXPECT_EQ(fatal[0].rfind("test timer: ", 0), 0u) << fatal[0];
  EXPECT_EQ(fatal[1], "test timer: out of memory");
}

// The seam in a real stage: the downloader's result callback throws (as if out of memory) while
// curl and libuv are on the stack. The exception reaches the fatal handler, not libuv, and the
// downloader still closes every handle.
TEST_F(CallbackGuardTest, AThrowInsideTheDownloaderReachesTheFatalHandler) {
  uv_loop_t& loop = loop_;
  DownloadOptions options;
  options.allow_private_networks = true;
  options.retry.retries = 0;
  int calls = 0;
  Downloader downloader(loop, options, [&](Download&&) {
    ++calls;
    throw std::bad_alloc();
  });
  ASSERT_TRUE(downloader.Init().ok());
  const std::string url =
      "http://127.0.0.1:" + std::to_string(testing::ClosedLoopbackPort()) + "/img/1.jpg";
  ASSERT_TRUE(downloader.Start(0, url).ok());
  uv_timer_t stop;
  uv_timer_init(&loop, &stop);
  stop.data = &downloader;
  uv_timer_start(
      &stop,
      [](uv_timer_t* t) {
        static_cast<Downloader*>(t->data)->Close([] {});
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
      },
      2000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(fatal.size(), 1u);
  EXPECT_NE(fatal[0].find("out of memory"), std::string::npos) << fatal[0];
}

}  // namespace
}  // namespace pixelmill
