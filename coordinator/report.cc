#include "coordinator/report.h"

#include <algorithm>
#include <cstdio>

#include "common/atomic_file.h"
#include "common/json_writer.h"
#include "common/string_printf.h"
#include "coordinator/verdict.h"

namespace pixelmill {
namespace {

double Ms(const Histogram& h, double q) { return h.Percentile(q) / 1000; }

// p50/p99 (and the count) of a latency histogram in microseconds, as milliseconds.
std::string LatencyJson(const Histogram& h) {
  return JsonObject()
      .Add("count", h.Count())
      .Add("p50_ms", Ms(h, 0.50))
      .Add("p99_ms", Ms(h, 0.99))
      .Done();
}

// "850 ms", "12.3 s".
std::string Duration(double ms) {
  if (ms < 10) return StringPrintf("%.1f ms", ms);
  if (ms < 1000) return StringPrintf("%.0f ms", ms);
  return StringPrintf("%.2f s", ms / 1000);
}

std::string Bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b < 1e3) return StringPrintf("%llu B", static_cast<unsigned long long>(bytes));
  if (b < 1e6) return StringPrintf("%.1f kB", b / 1e3);
  if (b < 1e9) return StringPrintf("%.1f MB", b / 1e6);
  return StringPrintf("%.2f GB", b / 1e9);
}

}  // namespace

double UsersPerSecond(const PipelineResult& run) {
  if (run.wall_seconds <= 0) return 0;
  return static_cast<double>(run.ok + run.failed) / run.wall_seconds;
}

std::string BuildReport(const LoadStats& load, const PipelineResult& run,
                        const ReplayStats& replay) {
  const DownloadStats& d = run.downloads;
  std::string load_json = JsonObject()
                              .Add("format", InputFormatName(load.format))
                              .Add("users", load.users)
                              .Add("bad_records", load.bad_records)
                              .Add("bytes", load.bytes)
                              .Add("seconds", load.seconds)
                              .Done();
  std::string download_json = JsonObject()
                                  .Add("requests", d.requests)
                                  .Add("retries", d.retries)
                                  .Add("ok", d.ok)
                                  .Add("failed", d.failed)
                                  .Add("bytes", d.bytes)
                                  .Add("p50_ms", Ms(d.latency_us, 0.50))
                                  .Add("p90_ms", Ms(d.latency_us, 0.90))
                                  .Add("p99_ms", Ms(d.latency_us, 0.99))
                                  .Done();
  const DispatchStats& w = run.dispatch;
  std::string workers_json = JsonObject()
                                 .Add("jobs_sent", w.jobs_sent)
                                 .Add("results", w.results)
                                 .Add("requeued", w.requeued)
                                 .Add("duplicates", w.duplicates)
                                 .Add("malformed", w.malformed)
                                 .Add("joined", w.workers_joined)
                                 .Add("lost", w.workers_lost)
                                 .Add("rejected", w.rejected)
                                 .Add("bad_results", w.bad_results)
                                 .Add("timed_out", w.timed_out)
                                 .Add("image_warnings", w.image_warnings)
                                 .Add("restarts", run.worker_restarts)
                                 .Add("most_connected", uint64_t{run.workers})
                                 .Done();
  // Seconds each stage spent blocked on the next: which one bound the run.
  std::string waits_json = JsonObject()
                               .Add("downloads_waiting_for_memory_s", run.waits.downloads_waiting_s)
                               .Add("download_budget_wait_s", d.budget_wait_seconds)
                               .Add("images_waiting_for_workers_s", run.waits.images_waiting_s)
                               .Add("results_waiting_for_disk_s", run.waits.results_waiting_s)
                               .Done();
  std::string memory_json = JsonObject()
                                .Add("budget_bytes", run.budget_limit)
                                .Add("peak_image_bytes", run.budget_peak)
                                .Add("budget_pauses", d.budget_pauses)
                                .Add("budget_forced", d.budget_forced)
                                .Add("peak_rss_bytes", run.peak_rss_bytes)
                                .Done();
  JsonObject by_code;
  for (const auto& [code, count] : run.failed_by_code) by_code.Add(code, count);
  const Verdict verdict = Judge(run);
  std::string verdict_json =
      JsonObject().Add("bound", BoundName(verdict.bound)).Add("evidence", verdict.evidence).Done();
  return JsonObject()
      .Add("users_total", load.users)
      .Add("ok", uint64_t{run.ok} + replay.skipped)
      .Add("failed", uint64_t{run.failed} + replay.failed_kept)
      .Add("skipped", replay.skipped)
      .AddRaw("failed_by_code", by_code.Done())
      .Add("wall_seconds", run.wall_seconds)
      .Add("users_per_second", UsersPerSecond(run))
      .Add("exit_code", int64_t{run.exit_code})
      .AddRaw("load", load_json)
      .AddRaw("download", download_json)
      .AddRaw("filter_cpu", LatencyJson(run.filter_cpu_us))
      .AddRaw("end_to_end", LatencyJson(run.end_to_end_us))
      .AddRaw("workers", workers_json)
      .Add("worker_utilisation", WorkerUtilisation(run))
      .AddRaw("waits", waits_json)
      .AddRaw("memory", memory_json)
      .AddRaw("verdict", verdict_json)
      .Add("interrupted", run.interrupted)
      .Add("left", uint64_t{run.left})
      .Add("manifest_syncs", run.manifest_syncs)
      .Done();
}

std::string SummaryTable(const PipelineResult& run, const ReplayStats& replay) {
  std::string codes;
  for (const auto& [code, count] : run.failed_by_code) {
    codes += (codes.empty() ? " (" : ", ") + code + " " + std::to_string(count);
  }
  if (replay.failed_kept > 0) {
    codes += (codes.empty() ? " (" : ", ") + std::to_string(replay.failed_kept) +
             " kept from the earlier run";
  }
  if (!codes.empty()) codes += ")";
  const std::string skipped =
      replay.skipped > 0 ? " (" + std::to_string(replay.skipped) + " skipped)" : "";
  const DownloadStats& d = run.downloads;
  std::string table = "summary:\n";
  const auto row = [&table](const char* label, const std::string& figures) {
    table += StringPrintf("  %-12s %s\n", label, figures.c_str());
  };
  row("users", std::to_string(run.ok + replay.skipped) + " ok" + skipped + ", " +
                   std::to_string(run.failed + replay.failed_kept) + " failed" + codes);
  row("wall", StringPrintf("%.2f s, %.1f users/s", run.wall_seconds, UsersPerSecond(run)));
  row("download", "p50 " + Duration(Ms(d.latency_us, 0.5)) + ", p90 " +
                      Duration(Ms(d.latency_us, 0.9)) + ", p99 " +
                      Duration(Ms(d.latency_us, 0.99)) + "; " + Bytes(d.bytes) + " in " +
                      std::to_string(d.requests) + " requests");
  if (run.filter_cpu_us.Count() > 0) {
    row("filter CPU", "p50 " + Duration(Ms(run.filter_cpu_us, 0.5)) + ", p99 " +
                          Duration(Ms(run.filter_cpu_us, 0.99)) + " a user");
  }
  row("end to end", "p50 " + Duration(Ms(run.end_to_end_us, 0.5)) + ", p99 " +
                        Duration(Ms(run.end_to_end_us, 0.99)) + " (download start to line)");
  if (run.workers > 0) {
    row("workers", StringPrintf("%zu, CPU busy %.0f%%", run.workers, WorkerUtilisation(run) * 100));
  }
  row("stage waits",
      StringPrintf("images for a worker %.1f s, results for the disk %.1f s, downloads for memory "
                   "%.1f s",
                   run.waits.images_waiting_s, run.waits.results_waiting_s,
                   std::max(run.waits.downloads_waiting_s, d.budget_wait_seconds)));
  const Verdict verdict = Judge(run);
  const std::string bound = verdict.bound == Bound::kBalanced
                                ? std::string("balanced")
                                : std::string(BoundName(verdict.bound)) + "-bound";
  row("verdict", bound + ": " + verdict.evidence);
  return table;
}

Status WriteReport(const std::string& path, const LoadStats& load, const PipelineResult& run,
                   const ReplayStats& replay) {
  Status s = WriteFileAtomically(path, BuildReport(load, run, replay) + "\n", /*sync=*/true);
  if (!s.ok()) return Status::Error("io", "cannot write report: " + s.message());
  return Status::Ok();
}

}  // namespace pixelmill
