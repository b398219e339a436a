#include "coordinator/merge/merge_report.h"

#include <algorithm>
#include <chrono>

#include "common/base/json_writer.h"
#include "common/base/version.h"
#include "coordinator/events/iso_time.h"
#include "coordinator/report/report.h"

namespace pixelmill {
namespace {

std::string Iso(int64_t unix_ns) {
  return IsoUtcTime(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(unix_ns))));
}

double Seconds(int64_t from_ns, int64_t to_ns) {
  return to_ns > from_ns ? static_cast<double>(to_ns - from_ns) / 1e9 : 0;
}

// The count and p50/p90/p99 in seconds of a histogram of microseconds.
std::string LatencyJson(const Histogram& h) {
  JsonObject json;
  json.Add("count", h.Count());
  return AddPercentiles(json, h).Done();
}

}  // namespace

void MergeFigures::Count(ShardFigures& shard, const ManifestRecord& record) {
  ++users;
  ++shard.users;
  if (record.deduplicated_from) {
    ++deduplicated;
    ++shard.deduplicated;
  }
  if (!record.ok()) {
    ++failed;
    ++shard.failed;
    ++failed_by_code[record.error_code];
    return;
  }
  ++ok;
  ++shard.ok;
  if (record.download_attempts > 0) {
    download_us.Record(static_cast<uint64_t>(std::max(0.0, record.download_ms) * 1000));
  }
  if (record.filtered && record.filter_attempts > 0) cpu_us.Record(record.cpu_micros);
}

int64_t MergeFigures::started_ns() const {
  int64_t first = 0;
  for (const ShardFigures& s : shards) {
    if (s.started_ns > 0 && (first == 0 || s.started_ns < first)) first = s.started_ns;
  }
  return first;
}

int64_t MergeFigures::finished_ns() const {
  int64_t last = 0;
  for (const ShardFigures& s : shards) last = std::max(last, s.finished_ns);
  return last;
}

double MergeFigures::wall_seconds() const { return Seconds(started_ns(), finished_ns()); }

std::string MergeReportJson(const MergeFigures& f) {
  std::string rows = "[";
  for (const ShardFigures& s : f.shards) {
    if (rows.size() > 1) rows += ',';
    rows += JsonObject()
                .Add("shard", s.shard)
                .Add("folder", s.folder)
                .Add("users", s.users)
                .Add("ok", s.ok)
                .Add("failed", s.failed)
                .Add("deduplicated", s.deduplicated)
                .Add("started_at", Iso(s.started_ns))
                .Add("finished_at", Iso(s.finished_ns))
                .Add("wall_s", Seconds(s.started_ns, s.finished_ns))
                .Done();
  }
  rows += ']';
  JsonObject by_code;
  for (const auto& [code, count] : f.failed_by_code) by_code.Add(code, count);
  return JsonObject()
      .Add("pixelmill", kVersion)
      .Add("merged_at", IsoUtcTime(std::chrono::system_clock::now()))
      .Add("input", f.input)
      .Add("filter", f.filter)
      .Add("shards", uint64_t{f.shards.size()})
      .Add("input_records", f.input_records)
      .Add("bad_records", f.bad_records)
      .Add("users", f.users)
      .Add("ok", f.ok)
      .Add("failed", f.failed)
      .AddRaw("failed_by_code", by_code.Done())
      .Add("deduplicated", f.deduplicated)
      .Add("images", f.images)
      .Add("started_at", Iso(f.started_ns()))
      .Add("finished_at", Iso(f.finished_ns()))
      .Add("wall_s", f.wall_seconds())
      .AddRaw("download", LatencyJson(f.download_us))
      .AddRaw("filter_cpu", LatencyJson(f.cpu_us))
      .Add("merge_s", f.merge_seconds)
      .AddRaw("by_shard", rows)
      .Done();
}

}  // namespace pixelmill
