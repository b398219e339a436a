// RunSequential (--sequential): the legacy pipeline, one user at a time on the calling thread,
// kept in the same binary as the baseline the Pipeline is measured against. For each pending
// user in input order: a blocking download (BlockingFetch: the Downloader's URL, address, retry
// and host-health policy through the same code), the header check, the filter in this process
// (RunFilter with the run's FilterContext, the same library the workers run), then the same
// commit step as the Pipeline (Sink: the image complete under its final name, then its line
// built by manifest.h), before the next user starts. No worker is spawned; the manifest lines,
// error codes, output files, report and resume behaviour are the Pipeline's, except that an ok
// line's "worker" is "<host>:<pid>:sequential" (the filter runs once: "attempts" is 1).
//
// Stops: the first SIGINT/SIGTERM/SIGHUP lets the current user finish for up to --grace and
// starts no other; a second stops at once. The users without a line are left for --resume.
// A filter step cannot be interrupted (an in-process sleep:MS runs to its end).
//
// Known limits against the Pipeline: no --max-memory (one image at a time), no worker address
// space cap (RLIMIT_AS would cap the coordinator), and `crash` is refused by main (it would kill
// the coordinator).
//
// Runs on the calling thread; the Sink's file writes go through a private libuv loop that is run
// until each commit has ended.
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
