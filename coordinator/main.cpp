// coordinator: flags in, exit code out. Everything else lives in RunCoordinator.
#include <sys/resource.h>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "common/version.h"
#include "coordinator/coordinator.h"
#include "coordinator/options.h"

namespace {

// Thousands of connections need thousands of descriptors: lift the soft limit to the hard one.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  pixelmill::Options options;
  pixelmill::DownloadOptions& dl = options.download;
  double timeout_s = static_cast<double>(dl.timeout_ms) / 1000;
  CLI::App app{"pixelmill coordinator: fetch every user's profile image, filter it, save it."};
  app.set_version_flag("--version", pixelmill::kVersion);
  app.add_option("--input", options.input, "users as a JSON array or JSONL file; - for stdin")
      ->required();
  app.add_option("--output", options.output,
                 "output folder (images/, manifest.jsonl, rejects.jsonl)");
  app.add_flag("--dry-run", options.dry_run,
               "load and validate the input, print a summary, exit; no network");
  app.add_option("--max-bad-records", options.max_bad_records,
                 "bad input records to skip (listed in OUT/rejects.jsonl); 0 aborts on the first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--filter", options.filter,
                 "filter spec; 'none' saves the downloaded images unchanged")
      ->capture_default_str();
  app.add_option("--concurrency", dl.concurrency, "downloads in flight at most")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str();
  app.add_option("--per-host", dl.per_host, "connections to one host at most")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str();
  app.add_option("--timeout", timeout_s, "seconds one download attempt may take")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--retries", dl.retry.retries,
                 "retries of a download after connect errors, timeouts, 5xx and 429")
      ->check(CLI::Range(0u, 100u))
      ->capture_default_str();
  app.add_option("--max-image-bytes", dl.max_image_bytes, "largest image accepted, in bytes")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 34))
      ->capture_default_str();
  app.add_flag("--allow-private-networks", dl.allow_private_networks,
               "allow image URLs on loopback, private and link-local addresses");
  app.add_option("--report", options.report, "write a JSON report of the run to this file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? pixelmill::kExitOk : pixelmill::kExitUsage;
  }
  dl.timeout_ms = static_cast<uint64_t>(timeout_s * 1000);
  if (options.output.empty() && !options.dry_run) {
    std::fprintf(stderr,
                 "error: --output is required (or use --dry-run)\nRun with --help for more "
                 "information.\n");
    return pixelmill::kExitUsage;
  }
  if (options.filter != "none") {
    std::fprintf(stderr,
                 "error: --filter %s needs the worker pool, which is not built yet; only "
                 "--filter none (save images unchanged) works in this version\n",
                 options.filter.c_str());
    return pixelmill::kExitUsage;
  }
  RaiseFileLimit();
  return pixelmill::RunCoordinator(options);
}
