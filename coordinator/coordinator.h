// The coordinator's job from start to finish: load the users, then (in later stages) download,
// dispatch and save. Returns the process exit code; see options.h.
#pragma once

#include "common/user_loader.h"
#include "common/user_store.h"
#include "coordinator/options.h"
#include "coordinator/run_observer.h"
#include "coordinator/run_state.h"
#include "coordinator/stop_request.h"

namespace pixelmill {

// Every message goes to `observer`; `stop` (may be null) lets the caller stop the run from a
// signal handler or another thread.
int RunCoordinator(const Options& options, RunObserver& observer, StopRequest* stop = nullptr);

// Users a caller has loaded itself (the C++ API), instead of options.input.
struct LoadedUsers {
  UserStore store;
  LoadStats stats;         // for the report
  InputIdentity identity;  // recorded in run.json: what a later resume compares its input with
};

// RunCoordinator for users already in `users.store`: options.input and options.dry_run are not
// read (no rejects.jsonl: loading is the caller's). Same output folder, resume, pipeline,
// report and summary; returns the exit code.
int RunLoadedUsers(const Options& options, LoadedUsers& users, RunObserver& observer,
                   StopRequest* stop = nullptr);

}  // namespace pixelmill
