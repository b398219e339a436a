// Options: everything the coordinator is told on its command line, with documented defaults.
// The C++ API fills it from RunOptions (api_options.cc), which the `coordinator` command fills
// from its flags; nothing else reads flags or the environment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/filters/filter.h"
#include "coordinator/download/downloader.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {

struct Options {
  // Users to process: a JSON array or JSONL file; "-" reads standard input.
  std::string input;
  // Output folder: images/, manifest.jsonl, rejects.jsonl, run.json. Required unless dry_run.
  std::string output;
  // Load and validate only, print a summary; no network, no workers.
  bool dry_run = false;
  // Delete an earlier run's output in `output` (manifest, rejects, images) and start afresh;
  // without it such a folder is refused.
  bool overwrite = false;
  // Continue the earlier run in `output`: users whose result is intact (their last manifest line
  // ok, their file as recorded) are skipped, failed ones kept, the others redone; the manifest
  // ends with one line per user. Refused when the input or output settings changed (run.json).
  // A folder without an earlier run starts afresh. Never with overwrite.
  bool resume = false;
  // With resume: redo the users whose last line failed too.
  bool retry_failed = false;
  // Resume even if the input or output settings changed, saying what changed (implies resume).
  bool resume_anyway = false;
  // Bad input records to skip (written to OUT/rejects.jsonl); 0 aborts on the first one.
  size_t max_bad_records = 0;
  // Filter spec as given, e.g. "blur:5" or "thumbnail:256,sharpen:1"; main.cpp parses it into
  // filter_spec (checked; its text is the canonical form), which is all anything else reads.
  std::string filter = "none";
  FilterSpec filter_spec{{FilterStep{"none", std::nullopt}}, "none"};
  // What the filter writes: format (kUnknown = the input's; GIF becomes PNG), JPEG/WebP quality,
  // metadata policy, and the largest image decoded (from its header, before decoding).
  FilterContext filter_output;
  // The argument of a filter spec that gives none (the seed's intensity).
  std::optional<double> intensity;
  // Local worker processes; 0 = remote workers only (needs bind).
  size_t workers = 1;
  // Extra endpoint for remote workers, e.g. tcp://127.0.0.1:5555; empty for none.
  std::string bind;
  // Allow binding a non-loopback address without keys.
  bool insecure = false;
  // Dispatches of one job before its user fails (worker deaths count).
  uint32_t max_attempts = 3;
  // Heartbeat interval between coordinator and workers.
  uint32_t heartbeat_ms = 1000;
  // The worker executable for local workers: --worker-binary, else the `worker` next to the
  // coordinator (never a PATH search). main.cpp checks it is executable.
  std::string worker_binary;
  // Address space cap of each local worker, in MB (RLIMIT_AS); 0 = sized from
  // filter_output.max_pixels (WorkerAddressSpaceMb).
  uint64_t worker_memory_mb = 0;
  // A job held by one worker longer than this is taken back and sent to another (attempt + 1);
  // the worker that held it is stopped (a local one is killed and replaced).
  uint64_t job_timeout_ms = 300'000;
  // With no worker connected and none that can start locally, how long to wait for a remote
  // worker before the waiting users fail with no_workers.
  uint64_t remote_wait_ms = 60'000;
  // Downloads: concurrency, per-host limit, timeouts, retries, byte cap, address policy.
  DownloadOptions download;
  // The byte budget of the image bytes the coordinator holds at once (bodies being downloaded,
  // images waiting for a worker or the disk, results): new downloads wait while it is full, and
  // a body that does not fit pauses its transfer. One image larger than it still runs alone.
  uint64_t max_memory = 512ull << 20;
  // Where to write the JSON run report; empty for none.
  std::string report;
  // After the first SIGINT/SIGTERM, how long work in flight may take to finish before the run
  // stops; a second signal stops it at once.
  uint64_t grace_ms = 5'000;
  // fsync each image and the images folder before its manifest line (power-loss safe; slower).
  bool durable = false;
  // One user at a time with the filter in this process, no workers (sequential.h): the baseline
  // the parallel configuration is measured against.
  bool sequential = false;
  // TEST-ONLY, never a flag (main.cpp does not set it): the sink finishes each batch of image
  // writes this many ms late, as on a slow disk (SinkOptions::commit_delay_ms_for_tests).
  uint64_t commit_delay_ms_for_tests = 0;
  // The command line as given (argv), to print the exact command that resumes a stopped run.
  std::vector<std::string> command_line;
};

}  // namespace pixelmill
