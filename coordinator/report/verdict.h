// Verdict: what bound a run, named from the figures the pipeline already measures: the seconds
// each stage spent blocked on the next one (PipelineResult::waits) and how busy the workers'
// CPUs were. A stage that waits on the next one for a large part of the run points at that next
// one; when no stage waited, the downloads were what the others waited for (network), unless the
// workers were busy all the same (balanced). A run too short or too small to tell start-up from
// steady work is inconclusive. Pure functions of a PipelineResult; any thread.
#pragma once

#include <cstddef>
#include <string>

#include "coordinator/engine/pipeline.h"

namespace pixelmill {

enum class Bound { kNetwork, kCpu, kWorkers, kDisk, kMemory, kBalanced, kInconclusive };

struct Verdict {
  Bound bound = Bound::kBalanced;
  std::string evidence;  // the figures behind the verdict and what to change, one sentence
};

// "network", "cpu", "workers", "disk", "memory", "balanced" or "inconclusive".
const char* BoundName(Bound bound);

// The workers' filter CPU time over their whole capacity: filter CPU seconds / (workers x wall
// seconds), 0 when no worker ran (--filter none). CPU time only: a worker sleeping or waiting
// on I/O inside a filter counts as idle.
double WorkerUtilisation(const PipelineResult& run);

// What bound `run`. Under kMinJudgedSeconds or kMinJudgedUsers users with a line: inconclusive
// (start-up would dominate). A wait counts when it lasted at least kWaitShare of the wall time;
// the longest such wait names the bound (results for the disk: disk; images for a worker: cpu,
// or workers when their CPUs were busy under kBusyShare of their time, as the time then went to
// start-up or a filter that waits; downloads for the byte budget: memory). Without one,
// downloads bound the run (network) unless the workers' CPUs were busy at least kBusyShare of
// their time (balanced). A network-bound run says why: most downloads failed (blocked private
// addresses: the flag that allows them), one slow user took kTailShare of the run or more
// (--timeout), or plain download time (--concurrency).
inline constexpr double kWaitShare = 0.2;
inline constexpr double kBusyShare = 0.5;
inline constexpr double kTailShare = 0.5;
inline constexpr double kMinJudgedSeconds = 1.0;
inline constexpr size_t kMinJudgedUsers = 10;
Verdict Judge(const PipelineResult& run);

// The stages' verdict above, without the slow-link note Judge adds: a remote worker (of those
// with at least kMinJobsPerWorker jobs) whose jobs took, beyond their CPU time, kSlowLinkFactor
// times the other workers' median and kSlowLinkSeconds more, is named with its host (a slow
// link to it: bandwidth or latency).
Verdict JudgeStages(const PipelineResult& run);
inline constexpr uint64_t kMinJobsPerWorker = 5;
inline constexpr double kSlowLinkFactor = 3.0;
inline constexpr double kSlowLinkSeconds = 0.05;

}  // namespace pixelmill
