// Guarded: the one way C code (libuv, libcurl, ZeroMQ callbacks) enters the coordinator. An
// exception must never unwind through C frames (undefined behaviour: at best std::terminate, at
// worst a corrupted loop), so every callback runs its body through Guarded(), which turns any
// exception (zmq::error_t, std::bad_alloc, ...) into a fatal error handed to the loop's owner.
// The owner (Pipeline) then stops the run in order, keeping every line already written.
//
//   static void OnTimer(uv_timer_t* t) {
//     Guarded(t->loop, "download timer", [&] { static_cast<Downloader*>(t->data)->Tick(); });
//   }
//
// Loop thread only. The handler is found through uv_loop_t::data, set by InstallFatalHandler;
// with none installed (unit tests of a single stage), the error is printed and the process
// aborts, since there is nobody to stop the run.
#pragma once

#include <uv.h>

#include <exception>
#include <functional>

namespace pixelmill {

// Receives "<where>: <what>" for an exception caught at a callback entry. Must not throw.
using FatalHandler = std::function<void(const char* where, const char* what)>;

// Makes `handler` the loop's fatal handler (stored in loop.data; nullptr removes it). The
// handler must outlive every callback of the loop.
void InstallFatalHandler(uv_loop_t& loop, FatalHandler* handler);

// Hands an exception caught at `where` to the loop's handler. Never throws.
void ReportFatal(uv_loop_t* loop, const char* where, const std::exception_ptr& error) noexcept;

// Runs `body`; an exception it throws is reported (ReportFatal) and swallowed. Returns whether
// `body` returned normally.
template <typename Body>
bool Guarded(uv_loop_t* loop, const char* where, Body&& body) noexcept {
  try {
    body();
    return true;
  } catch (...) {
    ReportFatal(loop, where, std::current_exception());
    return false;
  }
}

}  // namespace pixelmill
