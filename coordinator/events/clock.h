// Clock: the one source of time for every stage on the coordinator's loop (downloader, host gate,
// download budget, dispatcher, pipeline, run metrics). Time is typed: a TimePoint on the
// monotonic clock and Durations, never doubles in some unit; seconds as a double appear only
// where a figure leaves the program (report, manifest, messages), through Seconds().
//
// The real clock reads CLOCK_MONOTONIC (std::chrono::steady_clock, the source of libuv's
// uv_hrtime and uv_now too). A VirtualClock stands still until a test advances it, so heartbeat,
// job timeout, grace, host-health and budget-warning logic are tested without sleeping: the test
// advances the clock, then calls the check the loop's timer would have called. Timers themselves
// stay libuv timers; the clock only says what time it is when they fire.
//
// Any thread may read RealClock(); a VirtualClock belongs to its test's thread.
#pragma once

#include <chrono>

namespace pixelmill {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  // The time now; never goes back.
  virtual TimePoint Now() const = 0;
};

// The process's real monotonic clock.
Clock& RealClock();

// A clock that moves only when told: for tests. Starts at an arbitrary non-zero point.
class VirtualClock : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(Duration by) { now_ += by; }

 private:
  TimePoint now_{std::chrono::hours(1)};
};

// `d` in seconds, for figures that leave the program.
inline double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
// `d` in milliseconds, for figures that leave the program.
inline double Millis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace pixelmill
