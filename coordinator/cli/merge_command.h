// `coordinator merge --output ALL [--link | --move] SHARD_DIR...`: the command line of
// coordinator/merge (merge.h). Prints what it merged, or why not, on stderr.
#pragma once

namespace pixelmill {

// `argv[0]` is "merge". Returns the exit code: 0 merged, 1 refused or failed, 2 bad usage.
int RunMergeCommand(int argc, char** argv);

}  // namespace pixelmill
