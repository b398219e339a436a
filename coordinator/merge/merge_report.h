// The figures of a merge, counted line by line from the shards' manifests, and the merged
// report (ALL/report.json) made of them: counts added, latencies merged (every line's download
// and filter time in one histogram), the wall time from the first shard's start to the last
// one's end, and one row per shard.
//
// A value; one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/base/histogram.h"
#include "coordinator/output/manifest.h"

namespace pixelmill {

struct ShardFigures {
  std::string shard;   // "K/N"
  std::string folder;  // as given
  uint64_t users = 0, ok = 0, failed = 0, deduplicated = 0;
  int64_t started_ns = 0, finished_ns = 0;  // Unix time (run.json)
};

struct MergeFigures {
  std::vector<ShardFigures> shards;
  std::string input;   // the input file, as run.json names it
  std::string filter;  // canonical spec
  std::string images;  // where the images are: "left", "linked" or "moved"
  uint64_t input_records = 0, bad_records = 0;
  uint64_t users = 0, ok = 0, failed = 0, deduplicated = 0;
  std::map<std::string, uint64_t> failed_by_code;
  Histogram download_us, cpu_us;
  double merge_seconds = 0;

  // Counts `record`, a line of shard `shard`'s manifest.
  void Count(ShardFigures& shard, const ManifestRecord& record);
  // The first start and the last end over the shards, and the seconds between.
  int64_t started_ns() const;
  int64_t finished_ns() const;
  double wall_seconds() const;
};

// ALL/report.json's object (no trailing newline).
std::string MergeReportJson(const MergeFigures& figures);

}  // namespace pixelmill
