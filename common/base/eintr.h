// RetryOnEintr: repeats a system call interrupted by a signal. The one place the code base
// spells out the EINTR loop.
//
//   const ssize_t n = RetryOnEintr([&] { return ::read(fd, buf, len); });
#pragma once

#include <cerrno>

namespace pixelmill {

// Calls `call` until it returns something other than -1 with errno EINTR; returns that.
template <typename Call>
auto RetryOnEintr(Call call) {
  for (;;) {
    auto result = call();
    if (!(result == -1 && errno == EINTR)) return result;
  }
}

}  // namespace pixelmill
