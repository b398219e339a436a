// Signals that arrive before the loop watches them (while the input loads and the output folder
// is prepared). main() installs plain handlers first thing that only record the signal; once the
// pipeline's libuv signal watchers are installed it asks whether one came, and if so stops the
// run in order at once. So SIGINT, SIGTERM and SIGHUP never kill the coordinator outright.
//
// Process-wide; RecordEarlySignals() from main() only, EarlySignal() and EarlySignalCount() from
// the loop thread (or --sequential's one thread).
#pragma once

namespace pixelmill {

// Installs the recording handlers for SIGINT, SIGTERM and SIGHUP.
void RecordEarlySignals();

// The first such signal recorded so far, or 0.
int EarlySignal();

// How many such signals were recorded so far (--sequential, which installs no libuv signal
// watchers, stops at once on the second).
int EarlySignalCount();

}  // namespace pixelmill
