#include "coordinator/events/callback_guard.h"

#include <cstdio>
#include <cstdlib>
#include <new>

namespace pixelmill {

void InstallFatalHandler(uv_loop_t& loop, FatalHandler* handler) { loop.data = handler; }

void ReportFatal(uv_loop_t* loop, const char* where, const std::exception_ptr& error) noexcept {
  const char* what = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    what = "out of memory";  // no allocation needed to say it
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  auto* handler = loop != nullptr ? static_cast<FatalHandler*>(loop->data) : nullptr;
  if (handler != nullptr && *handler) {
    try {
      (*handler)(where, what);
      return;
    } catch (...) {
      // The handler itself failed (out of memory while recording): nothing can stop the run in
      // order any more.
    }
  }
  std::fprintf(stderr, "fatal: exception in %s: %s\n", where, what);
  std::abort();
}

}  // namespace pixelmill
