// StopRequest: how a run is asked to stop from outside its loop thread -- by a signal handler
// (the `coordinator` command's, through Runner::Cancel) or by another thread (a service
// embedding pixelmill).
// Request() is async-signal-safe and thread-safe: it only bumps atomics and, once the run's loop
// is attached, wakes it through a uv_async_t (uv_async_send is async-signal-safe). Requests made
// before the loop exists (while the input loads) are kept and acted on when the run starts.
//
// The first request drains the run (no new download; work in flight may finish for --grace),
// the second stops it at once. The loop thread reads requests(); any thread may Request().
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>

namespace pixelmill {

class StopRequest {
 public:
  StopRequest() = default;
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;
  ~StopRequest();  // REQUIRES: detached

  // Asks the run to stop; `signum` names the signal (0: not a signal). Async-signal-safe.
  void Request(int signum = 0) noexcept;
  // Requests so far, and the signal of the first (0 if none, or not a signal).
  int requests() const noexcept { return requests_.load(std::memory_order_acquire); }
  int first_signal() const noexcept { return first_signal_.load(std::memory_order_acquire); }

  // Loop thread: `on_request` runs on the loop after each Request() (several requests may be
  // seen in one call: compare requests() with what was handled).
  void Attach(uv_loop_t& loop, std::function<void()> on_request);
  // Loop thread: closes the wake-up handle (released by the loop later). Requests after this
  // are only counted.
  void Detach();

 private:
  std::atomic<int> requests_{0};
  std::atomic<int> first_signal_{0};
  std::atomic<uv_async_t*> wake_{nullptr};
  uv_async_t async_{};
  std::function<void()> on_request_;
  bool attached_ = false;
};

}  // namespace pixelmill
