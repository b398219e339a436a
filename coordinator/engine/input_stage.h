// The load stage: reads the input into the UserStore before any download starts, reporting
// bad records on stderr (the first few) and, when tolerated, in OUT/rejects.jsonl (all).
// Runs on the coordinator's main thread before the loop starts.
#pragma once

#include <optional>
#include <string>

#include "common/base/atomic_file.h"
#include "common/base/status.h"
#include "coordinator/engine/options.h"
#include "coordinator/events/run_observer.h"
#include "coordinator/events/stop_request.h"
#include "coordinator/input/user_loader.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

// OUT/rejects.jsonl, one line per skipped record: written to a temporary file beside it (created
// on the first record) that Publish() names, so a run refused after loading leaves an earlier
// run's rejects.jsonl as it was. A symlink planted at the name is refused.
class Rejects {
 public:
  explicit Rejects(std::string path) : path_(std::move(path)) {}

  void Write(const BadRecord& bad);
  // The first write error, if any.
  Status status() const;
  // Names the file (nothing when no record was written). REQUIRES: called once.
  Status Publish();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::optional<AtomicFileWriter> file_;
  std::string error_;
};

// Loads options.input into `store`. Fails with a message that lists the first bad records;
// skipped ones are reported to `observer` as warnings and, with options.max_bad_records > 0,
// written to `rejects` unless its path is empty (the caller publishes it once the run begins).
// A request on `stop` (if given) ends the load within InputFile::kStopCheckMs or one chunk
// (code kInterrupted: "interrupted by SIGTERM: loading ... was interrupted ..."); a load that
// would take more memory than LoadingMemoryLimit() fails naming the limit.
Result<LoadStats> LoadInput(const Options& options, UserStore& store, Rejects& rejects,
                            Observer& observer = StderrObserver(),
                            const StopRequest* stop = nullptr);

}  // namespace pixelmill
