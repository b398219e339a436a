// coordinator: flags in, exit code out. Everything else lives in RunCoordinator.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <clocale>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/byte_budget.h"
#include "common/filter.h"
#include "common/version.h"
#include "coordinator/coordinator.h"
#include "coordinator/options.h"
#include "coordinator/stop_request.h"
#include "coordinator/terminal_output.h"
#include "coordinator/worker_supervisor.h"

namespace {

// Thousands of connections need thousands of descriptors: lift the soft limit to the hard one.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

bool IsLoopbackEndpoint(const std::string& endpoint) {
  for (const char* prefix : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://"}) {
    if (endpoint.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "error: %s\nRun with --help for more information.\n", message.c_str());
  return pixelmill::kExitUsage;
}

// Checks the filter and worker flags together; canonicalises the filter spec.
int CheckWorkerOptions(pixelmill::Options& options) {
  auto spec = pixelmill::ParseFilterSpec(options.filter, options.intensity);
  if (!spec.ok()) return Usage("--filter: " + spec.status().message());
  options.filter_spec = spec.value();
  if (options.sequential && options.filter_spec.steps[0].name == "crash") {
    return Usage(
        "--filter crash kills the process that runs it: it needs workers, not --sequential");
  }
  if (options.filter_spec.IsNone() || options.dry_run || options.sequential) {
    return pixelmill::kExitOk;
  }
  if (options.workers == 0 && options.bind.empty()) {
    return Usage("--workers 0 needs --bind (remote workers only)");
  }
  if (!options.bind.empty() && !IsLoopbackEndpoint(options.bind) && !options.insecure) {
    return Usage("--bind " + options.bind +
                 " is not a loopback address: remote workers would talk in the clear; pass "
                 "--insecure to accept that (keys arrive with the secure-workers issue)");
  }
  if (options.workers > 0) {
    // Never a PATH search: any executable named "worker" earlier on PATH would be run.
    if (options.worker_binary.empty()) {
      options.worker_binary = pixelmill::WorkerSupervisor::FindWorkerBinary("/proc/self/exe");
    }
    if (options.worker_binary.empty()) {
      std::fprintf(stderr,
                   "error: cannot find the worker executable next to the coordinator; pass "
                   "--worker-binary PATH\n");
      return pixelmill::kExitFatal;
    }
    if (::access(options.worker_binary.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "error: worker binary %s is not executable: %s\n",
                   options.worker_binary.c_str(), std::strerror(errno));
      return pixelmill::kExitFatal;
    }
  }
  return pixelmill::kExitOk;
}

// --resume-anyway implies --resume; --retry-failed needs it; --overwrite contradicts it.
int CheckResumeOptions(pixelmill::Options& options) {
  options.resume = options.resume || options.resume_anyway;
  if (options.resume && options.overwrite) {
    return Usage(
        "--resume (continue the earlier run) and --overwrite (delete it) cannot go together");
  }
  if (options.retry_failed && !options.resume) return Usage("--retry-failed needs --resume");
  return pixelmill::kExitOk;
}

// A closed stderr or stdout must not kill the run (SIGPIPE), nor a file-size limit (SIGXFSZ):
// both become write errors the run reports. IDN host names need a UTF-8 character type.
void PrepareProcess(pixelmill::StopRequest* stop) {
  pixelmill::StopOnSignals(stop);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);
  if (std::setlocale(LC_CTYPE, "C.UTF-8") == nullptr) std::setlocale(LC_CTYPE, "");
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT, SIGTERM and SIGHUP ask the run to stop (drain, then stop at the second), whenever
  // they come: while loading, while workers spawn, while the loop runs.
  static pixelmill::StopRequest stop;
  PrepareProcess(&stop);
  pixelmill::Options options;
  pixelmill::DownloadOptions& dl = options.download;
  double timeout_s = static_cast<double>(dl.timeout_ms) / 1000;
  CLI::App app{"pixelmill coordinator: fetch every user's profile image, filter it, save it."};
  app.set_version_flag("--version", pixelmill::kVersion);
  app.add_option("--input", options.input, "users as a JSON array or JSONL file; - for stdin")
      ->required()
      ->group("Input and output");
  app.add_option("--output", options.output,
                 "output folder (images/, manifest.jsonl, rejects.jsonl)")
      ->group("Input and output");
  app.add_flag("--overwrite", options.overwrite,
               "delete the earlier run in --output (manifest, rejects, images) and start afresh")
      ->group("Input and output");
  app.add_flag("--resume", options.resume,
               "continue the earlier run in --output: redo only the users without an intact "
               "result (refused if the input or output settings changed)")
      ->group("Input and output");
  app.add_flag("--retry-failed", options.retry_failed,
               "with --resume: redo the users that failed too")
      ->group("Input and output");
  app.add_flag("--resume-anyway", options.resume_anyway,
               "--resume even if the input or output settings changed (says what changed)")
      ->group("Input and output");
  app.add_flag("--dry-run", options.dry_run,
               "load and validate the input, print a summary, exit; no network")
      ->group("Input and output");
  app.add_option("--max-bad-records", options.max_bad_records,
                 "bad input records to skip (listed in OUT/rejects.jsonl); 0 aborts on the first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group("Input and output");
  options.workers = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--filter", options.filter,
                 "filter spec: a step or a chain of steps, e.g. blur:5 or "
                 "thumbnail:256,sharpen:1:\n" +
                     pixelmill::FilterHelp())
      ->capture_default_str()
      ->group("Filter");
  std::string format = "input";
  app.add_option("--format", format,
                 "output format: jpeg, png, webp, or input (the input's; "
                 "GIF becomes PNG)")
      ->check(CLI::IsMember({"input", "jpeg", "png", "webp"}))
      ->capture_default_str()
      ->group("Filter");
  app.add_option("--quality", options.filter_output.quality, "JPEG/WebP quality")
      ->check(CLI::Range(1, 100))
      ->capture_default_str()
      ->group("Filter");
  app.add_flag("--keep-metadata", options.filter_output.keep_metadata,
               "keep EXIF (GPS included), XMP and IPTC metadata (stripped by default)")
      ->group("Filter");
  app.add_option("--max-pixels", options.filter_output.max_pixels,
                 "largest image filtered, in pixels (width x height, all frames), checked from "
                 "the header before decoding")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str()
      ->group("Filter");
  app.add_option("--intensity", options.intensity,
                 "the filter argument used when the spec gives none (e.g. --filter spin "
                 "--intensity 200)")
      ->group("Filter");
  app.add_option("--workers", options.workers,
                 "local worker processes (default: hardware threads; 0 = remote workers only)")
      ->check(CLI::Range(size_t{0}, size_t{256}))
      ->capture_default_str()
      ->group("Workers");
  app.add_option("--bind", options.bind,
                 "also accept remote workers here, e.g. tcp://127.0.0.1:5555")
      ->group("Workers");
  app.add_flag("--insecure", options.insecure,
               "allow --bind on a non-loopback address without encryption")
      ->group("Workers");
  app.add_option("--max-attempts", options.max_attempts,
                 "dispatches of one job (worker deaths included) before its user fails")
      ->check(CLI::Range(1u, 100u))
      ->capture_default_str()
      ->group("Workers");
  app.add_option("--heartbeat-ms", options.heartbeat_ms,
                 "heartbeat interval with workers; 3 missed = dead")
      ->check(CLI::Range(50u, 60000u))
      ->capture_default_str()
      ->group("Workers");
  app.add_option("--concurrency", dl.concurrency, "downloads in flight at most")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--per-host", dl.per_host, "connections to one host at most")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--timeout", timeout_s, "seconds one download attempt may take")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--retries", dl.retry.retries,
                 "retries of a download after connect errors, timeouts, 5xx and 429")
      ->check(CLI::Range(0u, 100u))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--max-image-bytes", dl.max_image_bytes, "largest image accepted, in bytes")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 34))
      ->capture_default_str()
      ->group("Downloads");
  std::string max_memory = "512M";
  app.add_option("--max-memory", max_memory,
                 "image bytes held at once (downloading, waiting, filtered), e.g. 512M or 2G "
                 "(K, M, G: 1024-based); downloads wait or pause at the limit")
      ->capture_default_str()
      ->group("Memory");
  app.add_flag("--allow-private-networks", dl.allow_private_networks,
               "allow image URLs on loopback, private and link-local addresses")
      ->group("Downloads");
  app.add_option("--proxy", dl.proxy,
                 "send every download through this HTTP proxy (proxy environment variables are "
                 "ignored); targets are still resolved and checked by pixelmill")
      ->group("Downloads");
  double job_timeout_s = static_cast<double>(options.job_timeout_ms) / 1000;
  app.add_option("--job-timeout", job_timeout_s,
                 "seconds a worker may hold one job before it goes to another worker")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str()
      ->group("Workers");
  double remote_wait_s = static_cast<double>(options.remote_wait_ms) / 1000;
  app.add_option("--remote-wait", remote_wait_s,
                 "seconds to wait for a remote worker when no worker is connected and none can "
                 "start locally; then the waiting users fail with no_workers")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->group("Workers");
  app.add_option("--worker-memory-mb", options.worker_memory_mb,
                 "address space cap of each local worker in MB (default: 1024 + 12 bytes per "
                 "pixel of --max-pixels)")
      ->group("Workers");
  app.add_option("--worker-binary", options.worker_binary,
                 "the worker executable for local workers (default: the one next to the "
                 "coordinator)")
      ->group("Workers");
  app.add_option("--report", options.report, "write a JSON report of the run to this file")
      ->group("Input and output");
  pixelmill::TerminalOptions terminal;
  app.add_flag("--quiet", terminal.quiet, "print only errors and the final summary")
      ->group("Progress and logs");
  app.add_option("--log-level", terminal.log_level, "debug, info, warning, error or off")
      ->capture_default_str()
      ->group("Progress and logs");
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "text, or json: one JSON object a line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str()
      ->group("Progress and logs");
  app.add_option("--progress-file", terminal.progress_file,
                 "write a JSONL time series of the run's progress here, one sample a second")
      ->group("Progress and logs");
  app.add_option("--progress-interval", terminal.progress_interval_s,
                 "seconds between plain progress lines when stderr is not a terminal (0: none)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->group("Progress and logs");
  double grace_s = static_cast<double>(options.grace_ms) / 1000;
  app.add_option("--grace", grace_s,
                 "after the first SIGINT/SIGTERM, seconds for the downloads and filters in "
                 "flight to finish and be saved; a second signal stops at once")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group("Input and output");
  app.add_flag("--durable", options.durable,
               "fsync every image and the images folder before its manifest line is written "
               "(safe against power loss; slower)")
      ->group("Input and output");
  app.add_flag("--sequential", options.sequential,
               "the legacy pipeline: one user at a time, a blocking download, the filter in this "
               "process, no workers (a baseline for benchmarks)")
      ->group("Workers");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? pixelmill::kExitOk : pixelmill::kExitUsage;
  }
  dl.timeout_ms = static_cast<uint64_t>(timeout_s * 1000);
  options.grace_ms = static_cast<uint64_t>(grace_s * 1000);
  options.command_line.assign(argv, argv + argc);
  terminal.json_logs = log_format == "json";
  const char* term = std::getenv("TERM");
  terminal.interactive = ::isatty(STDERR_FILENO) == 1 && term != nullptr &&
                         std::string(term) != "dumb" && log_format == "text";
  if (const std::optional<uint64_t> bytes = pixelmill::ParseByteSize(max_memory)) {
    options.max_memory = *bytes;
  } else {
    return Usage("--max-memory: '" + max_memory +
                 "' is not a byte count above 0 (plain bytes, or K, M, G: e.g. 512M)");
  }
  options.filter_output.format = format == "jpeg"   ? pixelmill::OutputFormat::kJpeg
                                 : format == "png"  ? pixelmill::OutputFormat::kPng
                                 : format == "webp" ? pixelmill::OutputFormat::kWebp
                                                    : pixelmill::OutputFormat::kUnknown;
  options.job_timeout_ms = static_cast<uint64_t>(job_timeout_s * 1000);
  options.remote_wait_ms = static_cast<uint64_t>(remote_wait_s * 1000);
  if (options.output.empty() && !options.dry_run) {
    std::fprintf(stderr,
                 "error: --output is required (or use --dry-run)\nRun with --help for more "
                 "information.\n");
    return pixelmill::kExitUsage;
  }
  if (const int code = CheckResumeOptions(options); code != pixelmill::kExitOk) return code;
  if (const int code = CheckWorkerOptions(options); code != pixelmill::kExitOk) return code;
  RaiseFileLimit();
  auto output = pixelmill::TerminalOutput::Create(terminal);
  if (!output.ok()) {
    if (output.status().code() == "usage") return Usage(output.status().message());
    std::fprintf(stderr, "error: %s\n", output.status().message().c_str());
    return pixelmill::kExitFatal;
  }
  return pixelmill::RunCoordinator(options, *output.value(), &stop);
}
