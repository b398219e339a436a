// The coordinator's job from start to finish: load the users, then (in later stages) download,
// dispatch and save. Returns the process exit code; see options.h.
#pragma once

#include "coordinator/options.h"
#include "coordinator/run_observer.h"
#include "coordinator/stop_request.h"

namespace pixelmill {

// Every message goes to `observer`; `stop` (may be null) lets the caller stop the run from a
// signal handler or another thread.
int RunCoordinator(const Options& options, RunObserver& observer, StopRequest* stop = nullptr);

}  // namespace pixelmill
