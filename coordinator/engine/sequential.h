// RunSequential (--sequential): the engine configured to run one user at a time on the calling
// thread with the filter in this process, no workers: the baseline the Pipeline is measured
// against (scripts/bench.sh proof). For each pending user in input order: its download by the
// Downloader (the same URL, address, redirect, retry, proxy and host-health policy; the only
// download on the wire), the per-user rules of user_rules.h (the probe, what the line records,
// what an ended commit means), the filter in this process (in_process_filter.h: the worker's
// library and settings, its result checked as a worker's is), then the same commit step (Sink:
// the image complete under its final name, then its line built by manifest.h), before the next
// user starts. The manifest lines, error codes, output files, report and resume behaviour are
// the Pipeline's, except that an ok line's "worker" is "<host>:<pid>:sequential" (the filter
// runs once: "attempts" is 1).
//
// Stops: the first SIGINT/SIGTERM/SIGHUP lets the current user finish for up to --grace and
// starts no other; a second stops at once, abandoning the download in flight. The users without
// a line are left for --resume. A filter step cannot be interrupted (an in-process sleep:MS runs
// to its end).
//
// Known limits against the Pipeline: no --max-memory (one image at a time) and no worker address
// space cap (RLIMIT_AS would cap the coordinator).
//
// Runs on the calling thread; the download and the Sink's file writes go through a private libuv
// loop that is run until each has ended.
#pragma once

#include "coordinator/engine/options.h"
#include "coordinator/engine/pipeline.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

// Runs every pending user of `store` to its manifest line, as Pipeline::Run() does, and returns
// the same result (no dispatch figures, no byte budget).
PipelineResult RunSequential(const Options& options, UserStore& store, Observer& observer,
                             StopRequest* stop);

}  // namespace pixelmill
