#include "coordinator/report.h"

#include <algorithm>
#include <cmath>

#include "common/atomic_file.h"
#include "common/json_writer.h"

namespace pixelmill {

double Quantile(std::vector<float>& values, double q) {
  if (values.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  const size_t index = std::min(values.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(index), values.end());
  return values[index];
}

std::string BuildReport(const LoadStats& load, const PipelineResult& run,
                        const ReplayStats& replay) {
  std::vector<float> latency = run.downloads.latency_ms;
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
                                  .Add("p50_ms", Quantile(latency, 0.50))
                                  .Add("p99_ms", Quantile(latency, 0.99))
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
                                 .Add("restarts", run.worker_restarts)
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
  return JsonObject()
      .Add("users_total", load.users)
      .Add("ok", uint64_t{run.ok} + replay.skipped)
      .Add("failed", uint64_t{run.failed} + replay.failed_kept)
      .Add("skipped", replay.skipped)
      .Add("wall_seconds", run.wall_seconds)
      .Add("exit_code", int64_t{run.exit_code})
      .AddRaw("load", load_json)
      .AddRaw("download", download_json)
      .AddRaw("workers", workers_json)
      .AddRaw("waits", waits_json)
      .AddRaw("memory", memory_json)
      .Add("interrupted", run.interrupted)
      .Add("left", uint64_t{run.left})
      .Add("manifest_syncs", run.manifest_syncs)
      .Done();
}

Status WriteReport(const std::string& path, const LoadStats& load, const PipelineResult& run,
                   const ReplayStats& replay) {
  Status s = WriteFileAtomically(path, BuildReport(load, run, replay) + "\n", /*sync=*/true);
  if (!s.ok()) return Status::Error("io", "cannot write report: " + s.message());
  return Status::Ok();
}

}  // namespace pixelmill
