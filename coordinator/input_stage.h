// The load stage: reads the input into the UserStore before any download starts, reporting
// bad records on stderr (the first few) and, when tolerated, in OUT/rejects.jsonl (all).
// Runs on the coordinator's main thread before the loop starts.
#pragma once

#include "common/status.h"
#include "common/user_loader.h"
#include "common/user_store.h"
#include "coordinator/options.h"
#include "coordinator/run_observer.h"

namespace pixelmill {

// Loads options.input into `store`. Fails with a message that lists the first bad records;
// skipped ones are reported to `observer` as warnings.
Result<LoadStats> LoadInput(const Options& options, UserStore& store,
                            RunObserver& observer = StderrObserver());

}  // namespace pixelmill
