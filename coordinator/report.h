// The run report (--report FILE): one JSON object with the totals and per-phase figures, for
// scripts and load tests. Written once, after the loop has finished.
#pragma once

#include <string>

#include "common/status.h"
#include "common/user_loader.h"
#include "coordinator/manifest_replay.h"
#include "coordinator/pipeline.h"

namespace pixelmill {

// The report as JSON text (no trailing newline). A resumed run's `replay` counts in: "ok" is this
// run's ok users plus the "skipped" ones (ok in the earlier run), "failed" includes the earlier
// run's failed users that were kept.
std::string BuildReport(const LoadStats& load, const PipelineResult& run,
                        const ReplayStats& replay = {});

// Writes BuildReport() and a newline to `path` atomically (unpredictable temp file + rename).
Status WriteReport(const std::string& path, const LoadStats& load, const PipelineResult& run,
                   const ReplayStats& replay = {});

// The q-quantile (0..1) of `values` (sorted in place), 0 when empty.
double Quantile(std::vector<float>& values, double q);

}  // namespace pixelmill
