// Options: what the engine runs with. The validated RunOptions (the public header's fields, one
// per `coordinator` flag, checked against the option table by ToOptions in api_options.cc) plus
// the fields derived from them that the engine reads; nothing else reads flags or the
// environment. A test may build one directly and set the derived fields itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/filters/filter.h"
#include "coordinator/download/downloader.h"
#include "coordinator/input/record_fields.h"
#include "coordinator/input/shard.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {

struct Options : RunOptions {
  // Users to process: a JSON array or JSONL file; "-" reads standard input (Runner::Run's
  // path, not an option).
  std::string input;
  // `shard` parsed: the part of the input this run takes.
  Shard input_shard;
  // id_field, name_field and url_field, checked.
  RecordFields record_fields;
  // Images in fanned-out subfolders (OutputLayout::ImagePath): decided once the users are
  // loaded, from fan_out and their count, or kept from the run being resumed (run.json).
  bool fan_out_images = false;
  // `filter` parsed (checked; its text is the canonical form), which is all anything else reads.
  FilterSpec filter_spec{{FilterStep{"none", std::nullopt}}, "none"};
  // What the filter writes, from format, quality, keep_metadata and max_pixels (kUnknown = the
  // input's format; GIF becomes PNG).
  FilterContext filter_output;
  // Downloads, from concurrency, per_host, timeout_s, retries, max_image_bytes,
  // allow_private_networks and proxy.
  DownloadOptions download;
  // TEST-ONLY, never a flag: the sink finishes each batch of image writes this many ms late, as
  // on a slow disk (SinkOptions::commit_delay_ms_for_tests).
  uint64_t commit_delay_ms_for_tests = 0;

  uint64_t grace_ms() const { return Ms(grace_s); }
  uint64_t job_timeout_ms() const { return Ms(job_timeout_s); }
  uint64_t remote_wait_ms() const { return Ms(remote_wait_s); }

 private:
  static uint64_t Ms(double seconds) { return static_cast<uint64_t>(seconds * 1000); }
};

}  // namespace pixelmill
