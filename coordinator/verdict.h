// Verdict: what bound a run, named from the figures the pipeline already measures: the seconds
// each stage spent blocked on the next one (PipelineResult::waits) and how busy the workers'
// CPUs were. A stage that waits on the next one for a large part of the run points at that next
// one; when no stage waited, the downloads were what the others waited for (network), unless the
// workers were busy all the same (balanced). Pure functions of a PipelineResult; any thread.
#pragma once

#include <string>

#include "coordinator/pipeline.h"

namespace pixelmill {

enum class Bound { kNetwork, kCpu, kDisk, kMemory, kBalanced };

struct Verdict {
  Bound bound = Bound::kBalanced;
  std::string evidence;  // the figures behind the verdict and what to change, one sentence
};

// "network", "cpu", "disk", "memory" or "balanced".
const char* BoundName(Bound bound);

// The workers' filter CPU time over their whole capacity: filter CPU seconds / (workers x wall
// seconds), 0 when no worker ran (--filter none). CPU time only: a worker sleeping or waiting
// on I/O inside a filter counts as idle.
double WorkerUtilisation(const PipelineResult& run);

// What bound `run`. A wait counts when it lasted at least kWaitShare of the wall time; the
// longest such wait names the bound (results for the disk: disk; images for a worker: cpu;
// downloads for the byte budget: memory). Without one, downloads bound the run (network) unless
// the workers' CPUs were busy at least kBusyShare of their time (balanced).
inline constexpr double kWaitShare = 0.2;
inline constexpr double kBusyShare = 0.5;
Verdict Judge(const PipelineResult& run);

}  // namespace pixelmill
