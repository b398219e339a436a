#include "coordinator/report/report.h"

#include <algorithm>
#include <cstdio>

#include "common/base/atomic_file.h"
#include "common/base/json_writer.h"
#include "common/base/string_printf.h"
#include "common/base/version.h"
#include "coordinator/report/verdict.h"

namespace pixelmill {
namespace {

double Ms(const Histogram& h, double q) { return h.Percentile(q) / 1000; }
double Seconds(const Histogram& h, double q) { return h.Percentile(q) / 1e6; }

// The percentile ladder of "distribution": [percentile, seconds] pairs, enough for a
// percentile plot or an HdrHistogram-style .hgrm file (the load-test command writes one).
std::string DistributionJson(const Histogram& h) {
  static constexpr double kLadder[] = {0,  10, 20, 30, 40, 50,   60,   70,    75, 80,
                                       85, 90, 95, 97, 99, 99.5, 99.9, 99.99, 100};
  std::string json = "[";
  for (double percentile : kLadder) {
    if (json.size() > 1) json += ',';
    json += StringPrintf("[%g,%.6f]", percentile, Seconds(h, percentile / 100));
  }
  return json + "]";
}

// The count and percentiles of a latency histogram; "p50_ms"/"p99_ms" kept for old readers.
std::string LatencyJson(const Histogram& h) {
  JsonObject json;
  json.Add("count", h.Count());
  return AddPercentiles(json, h)
      .Add("p50_ms", Ms(h, 0.50))
      .Add("p99_ms", Ms(h, 0.99))
      .Add("max_s", static_cast<double>(h.Max()) / 1e6)
      .AddRaw("distribution", DistributionJson(h))
      .Done();
}

// "p50 0.050 s, p90 0.120 s, p99 1.300 s": one unit for every duration.
std::string PercentilesText(const Histogram& h) {
  return StringPrintf("p50 %.3f s, p90 %.3f s, p99 %.3f s", Seconds(h, 0.5), Seconds(h, 0.9),
                      Seconds(h, 0.99));
}

std::string Bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b < 1e3) return StringPrintf("%llu B", static_cast<unsigned long long>(bytes));
  if (b < 1e6) return StringPrintf("%.1f kB", b / 1e3);
  if (b < 1e9) return StringPrintf("%.1f MB", b / 1e6);
  return StringPrintf("%.2f GB", b / 1e9);
}

double Mean(Duration total, uint64_t count) {
  return std::chrono::duration<double>(total).count() / static_cast<double>(count);
}

// One object per worker (WorkerLedger): who it was and what it did.
std::string ByWorkerJson(const std::vector<WorkerFigures>& rows) {
  std::string json = "[";
  for (const WorkerFigures& w : rows) {
    const uint64_t jobs = w.jobs_ok + w.jobs_failed;
    if (json.size() > 1) json += ',';
    json += JsonObject()
                .Add("worker", w.worker)
                .Add("host", w.host)
                .Add("key", w.key)
                .Add("remote", w.remote)
                .Add("jobs_ok", w.jobs_ok)
                .Add("jobs_failed", w.jobs_failed)
                .Add("cpu_s", static_cast<double>(w.cpu_micros) / 1e6)
                .Add("result_bytes", w.result_bytes)
                .Add("round_trip_mean_s", jobs == 0 ? 0.0 : Mean(w.round_trips, jobs))
                .Add("connected_s", Mean(w.connected, 1))
                .Add("connections", uint64_t{w.connections})
                .Done();
  }
  return json + "]";
}

}  // namespace

JsonObject& AddPercentiles(JsonObject& json, const Histogram& h) {
  return json.Add("p50_s", Seconds(h, 0.50))
      .Add("p90_s", Seconds(h, 0.90))
      .Add("p99_s", Seconds(h, 0.99));
}

double UsersPerSecond(const PipelineResult& run) {
  if (run.wall_seconds <= 0) return 0;
  return static_cast<double>(run.ok + run.failed) / run.wall_seconds;
}

std::string BuildReport(const LoadStats& load, const PipelineResult& run, const ReplayStats& replay,
                        const ReportContext& context) {
  const DownloadStats& d = run.downloads;
  std::string load_json = JsonObject()
                              .Add("format", InputFormatName(load.format))
                              .Add("users", load.users)
                              .Add("bad_records", load.bad_records)
                              .Add("bytes", load.bytes)
                              .Add("seconds", load.seconds)
                              .Done();
  JsonObject download;
  download.Add("requests", d.requests)
      .Add("retries", d.retries)
      .Add("ok", d.ok)
      .Add("failed", d.failed)
      .Add("bytes", d.bytes)
      .Add("connections", d.connections)
      .AddRaw("http_versions",
              JsonObject().Add("1.1", d.http1_responses).Add("2", d.http2_responses).Done());
  // Host-seconds waited for --rate's tokens and for servers' Retry-After.
  const std::string throttled_json = JsonObject()
                                         .Add("by_rate_s", d.throttle.by_rate_s)
                                         .Add("by_server_s", d.throttle.by_server_s)
                                         .Add("server_slowdowns", d.throttle.server_slowdowns)
                                         .Done();
  std::string download_json = AddPercentiles(download, d.latency_us)
                                  .Add("p50_ms", Ms(d.latency_us, 0.50))
                                  .Add("p90_ms", Ms(d.latency_us, 0.90))
                                  .Add("p99_ms", Ms(d.latency_us, 0.99))
                                  .Add("max_s", static_cast<double>(d.latency_us.Max()) / 1e6)
                                  .AddRaw("distribution", DistributionJson(d.latency_us))
                                  .AddRaw("slot_wait", LatencyJson(d.slot_wait_us))
                                  .AddRaw("transfer", LatencyJson(d.transfer_us))
                                  .AddRaw("throttled", throttled_json)
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
                                 .Add("left", w.workers_left)
                                 .Add("rejected", w.rejected)
                                 .Add("bad_results", w.bad_results)
                                 .Add("timed_out", w.timed_out)
                                 .Add("image_warnings", w.image_warnings)
                                 .Add("restarts", run.worker_restarts)
                                 .Add("most_connected", uint64_t{run.workers})
                                 .AddRaw("by_worker", ByWorkerJson(w.by_worker))
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
                                .Add("budget_stopped", d.budget_stopped)
                                .Add("peak_rss_bytes", run.peak_rss_bytes)
                                .Done();
  std::string dedupe_json = JsonObject()
                                .Add("deduplicated", run.dedupe.deduplicated)
                                .Add("downloads_saved", run.dedupe.downloads_saved)
                                .Add("filter_jobs_saved", run.dedupe.filter_jobs_saved)
                                .Done();
  JsonObject by_code;
  for (const auto& [code, count] : run.failed_by_code) by_code.Add(CodeName(code), count);
  const Verdict verdict = Judge(run);
  std::string verdict_json =
      JsonObject().Add("bound", BoundName(verdict.bound)).Add("evidence", verdict.evidence).Done();
  JsonObject report;
  if (!context.started_at.empty()) {
    report.Add("pixelmill", kVersion).Add("started_at", context.started_at);
  }
  if (!context.command_line.empty()) {
    report.AddRaw("command_line", RedactedCommandLineJson(context.command_line));
  }
  if (context.options != nullptr) report.AddRaw("options", OptionsJson(*context.options));
  return report.Add("users_total", load.users)
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
      .AddRaw("dedupe", dedupe_json)
      .Done();
}

std::string SummaryTable(const PipelineResult& run, const ReplayStats& replay) {
  std::string codes;
  for (const auto& [code, count] : run.failed_by_code) {
    codes +=
        (codes.empty() ? " (" : ", ") + std::string(CodeName(code)) + " " + std::to_string(count);
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
  row("download", PercentilesText(d.latency_us) + "; " + Bytes(d.bytes) + " in " +
                      std::to_string(d.requests) + " requests");
  row("  connections", std::to_string(d.connections) + " opened; responses " +
                           std::to_string(d.http1_responses) + " over HTTP/1.x, " +
                           std::to_string(d.http2_responses) + " over HTTP/2");
  row("  slot wait", PercentilesText(d.slot_wait_us) + " (admitted, waiting for a connection)");
  row("  transfer", PercentilesText(d.transfer_us) + " (on the wire, retries included)");
  if (d.throttle.by_rate_s > 0 || d.throttle.by_server_s > 0) {
    row("  throttled",
        StringPrintf("%.1f s by --rate, %.1f s by servers' Retry-After (host-seconds)",
                     d.throttle.by_rate_s, d.throttle.by_server_s));
  }
  if (run.filter_cpu_us.Count() > 0) {
    row("filter CPU", PercentilesText(run.filter_cpu_us) + " a user");
  }
  row("end to end", PercentilesText(run.end_to_end_us) + " (admission to line)");
  if (run.workers > 0) {
    row("workers", StringPrintf("%zu, CPU busy %.0f%%", run.workers, WorkerUtilisation(run) * 100));
  }
  row("stage waits",
      StringPrintf("images for a worker %.1f s, results for the disk %.1f s, downloads for memory "
                   "%.1f s",
                   run.waits.images_waiting_s, run.waits.results_waiting_s,
                   std::max(run.waits.downloads_waiting_s, d.budget_wait_seconds)));
  const Verdict verdict = Judge(run);
  const bool named = verdict.bound == Bound::kBalanced || verdict.bound == Bound::kInconclusive;
  const std::string bound = named ? std::string(BoundName(verdict.bound))
                                  : std::string(BoundName(verdict.bound)) + "-bound";
  row("verdict", bound + ": " + verdict.evidence);
  return table;
}

Status WriteReport(const std::string& path, const LoadStats& load, const PipelineResult& run,
                   const ReplayStats& replay, const ReportContext& context) {
  return WriteReportJson(path, BuildReport(load, run, replay, context));
}

Status WriteReportJson(const std::string& path, const std::string& json) {
  Status s = WriteFileAtomically(path, json + "\n", /*sync=*/true);
  if (!s.ok()) return Status::Error(Code::kIo, "cannot write report: " + s.message());
  return Status::Ok();
}

}  // namespace pixelmill
