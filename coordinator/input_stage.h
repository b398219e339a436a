// The load stage: reads the input into the UserStore before any download starts, reporting
// bad records on stderr (the first few) and, when tolerated, in OUT/rejects.jsonl (all).
// Runs on the coordinator's main thread before the loop starts.
#pragma once

#include "common/status.h"
#include "common/user_loader.h"
#include "common/user_store.h"
#include "coordinator/options.h"
#include "coordinator/run_observer.h"
#include "coordinator/stop_request.h"

namespace pixelmill {

// Loads options.input into `store`. Fails with a message that lists the first bad records;
// skipped ones are reported to `observer` as warnings. A request on `stop` (if given) ends the
// load within InputFile::kStopCheckMs or one chunk ("interrupted by SIGTERM while loading ...",
// code "interrupted"); a load that would take more memory than LoadingMemoryLimit() fails.
Result<LoadStats> LoadInput(const Options& options, UserStore& store,
                            RunObserver& observer = StderrObserver(),
                            const StopRequest* stop = nullptr);

}  // namespace pixelmill
