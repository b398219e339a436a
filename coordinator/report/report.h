// The run report (--report FILE): one JSON object with the totals and per-phase figures, for
// scripts and load tests, and the short table of the same figures for people (SummaryTable,
// printed to stderr at the end of a run). Both once, after the loop has finished.
//
// Units: every duration in seconds (keys ending in _s or "seconds"; the table's "s"). The
// latencies' older millisecond keys ("p50_ms", "p90_ms", "p99_ms") are kept beside their
// "_s" twins for scripts that read them.
#pragma once

#include <string>

#include "common/base/histogram.h"
#include "common/base/json_writer.h"
#include "common/base/status.h"
#include "coordinator/engine/pipeline.h"
#include "coordinator/input/user_loader.h"
#include "coordinator/output/manifest_replay.h"
#include "coordinator/report/report_header.h"

namespace pixelmill {

// The report as JSON text (no trailing newline). A resumed run's `replay` counts in: "ok" is this
// run's ok users plus the "skipped" ones (ok in the earlier run), "failed" includes the earlier
// run's failed users that were kept.
// `context` (when given) heads it: "pixelmill" (the version), "started_at", "command_line"
// and "options", redacted.
std::string BuildReport(const LoadStats& load, const PipelineResult& run,
                        const ReplayStats& replay = {}, const ReportContext& context = {});

// Writes BuildReport() and a newline to `path` atomically (unpredictable temp file + rename).
Status WriteReport(const std::string& path, const LoadStats& load, const PipelineResult& run,
                   const ReplayStats& replay = {}, const ReportContext& context = {});
// Writes a report already built (`json`) the same way.
Status WriteReportJson(const std::string& path, const std::string& json);

// The end-of-run summary for people, one "label  figures" row each (ok, failed by code and
// skipped users; wall time and users/s; download, filter CPU and end-to-end latencies; worker
// utilisation; stage waits; the verdict and its evidence), each row ending in a newline.
std::string SummaryTable(const PipelineResult& run, const ReplayStats& replay = {});

// p50/p90/p99 of a latency histogram in microseconds, as seconds ("p50_s", ...), into `json`:
// the one shape of a latency in a report (the run's, and the merge's).
JsonObject& AddPercentiles(JsonObject& json, const Histogram& h);

// Users with a line from this run (ok or failed; skipped ones not) per wall second.
double UsersPerSecond(const PipelineResult& run);

}  // namespace pixelmill
