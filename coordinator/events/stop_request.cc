#include "coordinator/events/stop_request.h"

#include <cassert>

#include "coordinator/events/callback_guard.h"

namespace pixelmill {

StopRequest::~StopRequest() { assert(!attached_); }

void StopRequest::Request(int signum) noexcept {
  int none = 0;
  if (signum != 0) first_signal_.compare_exchange_strong(none, signum, std::memory_order_acq_rel);
  requests_.fetch_add(1, std::memory_order_acq_rel);
  if (uv_async_t* wake = wake_.load(std::memory_order_acquire)) uv_async_send(wake);
}

void StopRequest::Attach(uv_loop_t& loop, std::function<void()> on_request) {
  assert(!attached_);
  attached_ = true;
  on_request_ = std::move(on_request);
  uv_async_init(&loop, &async_, [](uv_async_t* a) {
    auto* self = static_cast<StopRequest*>(a->data);
    Guarded(a->loop, "stop request", [&] { self->on_request_(); });
  });
  async_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));  // never keeps the loop alive by itself
  wake_.store(&async_, std::memory_order_release);
  if (requests() > 0) uv_async_send(&async_);  // came before the loop: act on it now
}

void StopRequest::Detach() {
  if (!attached_) return;
  attached_ = false;
  wake_.store(nullptr, std::memory_order_release);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

}  // namespace pixelmill
