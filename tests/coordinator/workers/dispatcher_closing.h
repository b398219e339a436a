// CloseOnLoop: how a dispatcher test ends: the dispatcher closed and its loop run until every
// handle is released. Header-only; the loop's thread.
#pragma once

#include <uv.h>

#include <memory>

#include <gtest/gtest.h>

#include "coordinator/workers/dispatcher.h"

namespace pixelmill::testing {

// Closes `dispatcher` (if any), runs `loop` until it is released, then destroys it.
inline void CloseOnLoop(std::unique_ptr<Dispatcher>& dispatcher, uv_loop_t& loop) {
  if (!dispatcher) return;
  bool closed = false;
  dispatcher->Close([&] { closed = true; });
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_TRUE(closed);
  dispatcher.reset();
}

}  // namespace pixelmill::testing
