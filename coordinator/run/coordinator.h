// The coordinator's job from start to finish: load the users, download, dispatch, save, report.
// The C++ API (api.cc) is its one caller; the `coordinator` command goes through that API.
#pragma once

#include "coordinator/engine/options.h"
#include "coordinator/engine/run_state.h"
#include "coordinator/events/run_observer.h"
#include "coordinator/events/stop_request.h"
#include "coordinator/input/user_loader.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

// Users a caller has loaded itself (the C++ API), or that RunCoordinator loaded.
struct LoadedUsers {
  UserStore store;
  LoadStats stats;         // for the report
  InputIdentity identity;  // recorded in run.json: what a later resume compares its input with
};

// How a run ended.
struct RunOutcome {
  int exit_code = kExitFatal;
  // Users whose last manifest line is ok or failed at the end (an earlier run's included).
  uint64_t ok = 0, failed = 0;
  // The run got past its checks (options, input, the output folder, resume) and the manifest
  // is this run's: false when it was refused before doing anything.
  bool began = false;
  // The report (--report's JSON document), when the pipeline ran.
  std::string report = {};
};

// Loads options.input into `users` (left there for the caller: the dry run's figures, the
// API's records in input order), then runs them. Every message goes to `observer`; `stop` (may
// be null) lets the caller stop the run from a signal handler or another thread. A dry run
// stops after loading.
RunOutcome RunCoordinator(const Options& options, LoadedUsers& users, Observer& observer,
                          StopRequest* stop = nullptr);

// RunCoordinator for users already in `users.store`: options.input and options.dry_run are not
// read (no rejects.jsonl: loading is the caller's). Same output folder, resume, pipeline,
// report and summary.
RunOutcome RunLoadedUsers(const Options& options, LoadedUsers& users, Observer& observer,
                          StopRequest* stop = nullptr);

}  // namespace pixelmill
