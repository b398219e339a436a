// Observer: the one way a run speaks. The pipeline and its stages write nothing to stderr,
// install no signal handler and read no flag; they tell an observer what happens -- notable
// events (a worker joined or was lost, a retry storm, the budget full for long, a fatal error)
// and, ten times a second, a progress sample -- and the caller decides where it goes: the
// `coordinator` command plugs in the terminal (progress line, logs) and the --progress-file
// writer, a service using the C++ API its own metrics.
//
// The internals use the public API's Observer, LogLevel and ProgressSample under their public
// names: there is one interface, so what the command shows is what a library user can show.
// This header adds the helpers the internals share.
// Called on the run's loop thread only; implementations must not block for long.
#pragma once

#include "pixelmill/pixelmill.h"

namespace pixelmill {

// printf-style OnEvent: `format` without the trailing newline.
void Emit(Observer& observer, LogLevel level, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// Writes events to stderr as "coordinator: [error: |warning: ]<message>" and ignores progress: the
// default for stages and tests that are given no observer.
Observer& StderrObserver();

}  // namespace pixelmill
