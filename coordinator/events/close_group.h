// CloseGroup: "close these, then call me". libuv releases a handle only in a later loop phase,
// and a stage usually owns several (timers, polls, a child stage); the group counts what is
// still closing and runs its callback once, after the last one is released.
//
//   group_.Start([this] { on_closed_(); });
//   group_.Close(&timer_);                 // a uv handle: uv_close() through the group
//   child_.Close(group_.Member());         // anything that takes a "closed" callback
//   group_.Seal();                         // no more members: done runs once all are released
//
// Loop thread only. The group must outlive its members' callbacks; handle->data is taken over
// once a handle is closed through it.
#pragma once

#include <uv.h>

#include <cassert>
#include <cstddef>
#include <functional>

namespace pixelmill {

class CloseGroup {
 public:
  CloseGroup() = default;
  CloseGroup(const CloseGroup&) = delete;
  CloseGroup& operator=(const CloseGroup&) = delete;

  // Begins closing; `done` runs once every member has closed and Seal() was called.
  void Start(std::function<void()> done) {
    assert(!started_);
    started_ = true;
    done_ = std::move(done);
  }
  // A callback that marks one member closed; call it exactly once.
  std::function<void()> Member() {
    ++open_;
    return [this] { Closed(); };
  }
  // Closes a libuv handle as a member of the group.
  template <typename Handle>
  void Close(Handle* handle) {
    auto* h = reinterpret_cast<uv_handle_t*>(handle);
    ++open_;
    h->data = this;
    uv_close(h, [](uv_handle_t* closed) { static_cast<CloseGroup*>(closed->data)->Closed(); });
  }
  // No more members will be added: runs `done` now if nothing is still closing.
  void Seal() {
    sealed_ = true;
    MaybeDone();
  }
  bool started() const { return started_; }
  bool done() const { return finished_; }

 private:
  void Closed() {
    assert(open_ > 0);
    --open_;
    MaybeDone();
  }
  void MaybeDone() {
    if (!sealed_ || open_ > 0 || finished_) return;
    finished_ = true;
    if (done_) std::move(done_)();
  }

  std::function<void()> done_;
  size_t open_ = 0;
  bool started_ = false, sealed_ = false, finished_ = false;
};

}  // namespace pixelmill
