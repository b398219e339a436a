// coordinator: flags in, exit code out. The command is a client of the C++ API
// (include/pixelmill/pixelmill.h): it turns its flags into RunOptions, plugs its terminal output
// in as the run's Observer, turns signals into Runner::Cancel, and returns the run's exit code.
// It also does what the API leaves to its host: SIGPIPE and SIGXFSZ ignored, the descriptor
// limit raised, a UTF-8 locale for IDN host names, and where the worker executable is.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <clocale>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/base/byte_budget.h"
#include "common/base/version.h"
#include "common/filters/filter.h"
#include "coordinator/cli/nearest_flag.h"
#include "coordinator/cli/terminal_output.h"
#include "pixelmill/pixelmill.h"

namespace {

// Thousands of connections need thousands of descriptors: lift the soft limit to the hard one.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "coordinator: error: %s\nRun with --help for more information.\n",
               message.c_str());
  return pixelmill::kExitUsage;
}

// The usage error for the arguments `app` did not expect: each unknown flag with the nearest
// known one, e.g. "unknown flag --wokers (did you mean --workers?)".
int UnexpectedArguments(const CLI::App& app) {
  std::vector<std::string> known;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) known.push_back("--" + name);
  }
  std::string message;
  for (const std::string& arg : app.remaining()) {
    if (!message.empty()) message += "; ";
    if (arg.size() < 2 || arg[0] != '-') {
      message += "unexpected argument '" + arg + "'";
      continue;
    }
    message += "unknown flag " + arg;
    const std::string nearest = pixelmill::NearestFlag(arg, known);
    if (!nearest.empty()) message += " (did you mean " + nearest + "?)";
  }
  return Usage(message.empty() ? "unexpected arguments" : message);
}

// The `worker` beside this executable (an install's bin/), or the build tree's worker/worker;
// "" when neither is there (the API then looks beside its library).
std::string WorkerBesideThisProgram() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (ec) return {};
  for (const fs::path& candidate :
       {exe.parent_path() / "worker", exe.parent_path().parent_path() / "worker" / "worker"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

std::atomic<pixelmill::Runner*> g_runner{nullptr};

void OnStopSignal(int signum) {
  if (pixelmill::Runner* runner = g_runner.load(std::memory_order_acquire)) {
    runner->Cancel(signum);  // async-signal-safe
  }
}

// SIGINT, SIGTERM and SIGHUP cancel `runner` (the default action again when null).
void StopOnSignals(pixelmill::Runner* runner) {
  g_runner.store(runner, std::memory_order_release);
  struct sigaction action {};
  action.sa_handler = runner != nullptr ? &OnStopSignal : SIG_DFL;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signum : {SIGINT, SIGTERM, SIGHUP}) sigaction(signum, &action, nullptr);
}

// A closed stderr or stdout must not kill the run (SIGPIPE), nor a file-size limit (SIGXFSZ):
// both become write errors the run reports. IDN host names need a UTF-8 character type.
void PrepareProcess() {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);
  if (std::setlocale(LC_CTYPE, "C.UTF-8") == nullptr) std::setlocale(LC_CTYPE, "");
}

// --dry-run's figures, on stdout.
void PrintDryRun(const pixelmill::InputSummary& in) {
  const double users = static_cast<double>(in.users);
  const double per_user = users > 0 ? static_cast<double>(in.store_bytes) / users : 0;
  const double fields = users > 0 ? static_cast<double>(in.store_field_bytes) / users : 0;
  const double mb_per_s =
      in.load_seconds > 0 ? static_cast<double>(in.bytes) / 1e6 / in.load_seconds : 0;
  std::printf("format:            %s\n", in.format.c_str());
  std::printf("users loaded:      %llu\n", static_cast<unsigned long long>(in.users));
  std::printf("bad records:       %llu\n", static_cast<unsigned long long>(in.bad_records));
  std::printf("store bytes/user:  %.1f (fields %.1f + fixed %.1f)\n", per_user, fields,
              per_user - fields);
  std::printf("store bytes:       %llu\n", static_cast<unsigned long long>(in.store_bytes));
  std::printf("load time:         %.3f s (%.1f MB/s, %llu bytes)\n", in.load_seconds, mb_per_s,
              static_cast<unsigned long long>(in.bytes));
}

}  // namespace

int main(int argc, char** argv) {
  PrepareProcess();
  pixelmill::RunOptions options;
  std::string input;
  CLI::App app{"pixelmill coordinator: fetch every user's profile image, filter it, save it."};
  app.set_version_flag("--version", pixelmill::kVersion);
  app.add_option("--input", input, "users as a JSON array or JSONL file; - for stdin")
      ->required()
      ->group("Input and output");
  app.add_option("--output", options.output_dir,
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
  app.add_option("--format", options.format,
                 "output format: jpeg, png, webp, or input (the input's; "
                 "GIF becomes PNG)")
      ->check(CLI::IsMember({"input", "jpeg", "png", "webp"}))
      ->capture_default_str()
      ->group("Filter");
  app.add_option("--quality", options.quality, "JPEG/WebP quality")
      ->check(CLI::Range(1, 100))
      ->capture_default_str()
      ->group("Filter");
  app.add_flag("--keep-metadata", options.keep_metadata,
               "keep EXIF (GPS included), XMP and IPTC metadata (stripped by default)")
      ->group("Filter");
  app.add_option("--max-pixels", options.max_pixels,
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
  app.add_option("--concurrency", options.concurrency, "downloads in flight at most")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--per-host", options.per_host, "connections to one host at most")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--timeout", options.timeout_s, "seconds one download attempt may take")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--retries", options.retries,
                 "retries of a download after connect errors, timeouts, 5xx and 429")
      ->check(CLI::Range(0u, 100u))
      ->capture_default_str()
      ->group("Downloads");
  app.add_option("--max-image-bytes", options.max_image_bytes, "largest image accepted, in bytes")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 34))
      ->capture_default_str()
      ->group("Downloads");
  std::string max_memory = "512M";
  app.add_option("--max-memory", max_memory,
                 "image bytes held at once (downloading, waiting, filtered), e.g. 512M, 2G or 1.5G "
                 "(K, M, G: 1024-based); downloads wait or pause at the limit")
      ->capture_default_str()
      ->group("Memory");
  app.add_flag("--allow-private-networks", options.allow_private_networks,
               "allow image URLs on loopback, private and link-local addresses")
      ->group("Downloads");
  app.add_option("--proxy", options.proxy,
                 "send every download through this HTTP proxy (proxy environment variables are "
                 "ignored); targets are still resolved and checked by pixelmill")
      ->group("Downloads");
  app.add_option("--job-timeout", options.job_timeout_s,
                 "seconds a worker may hold one job before it goes to another worker")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str()
      ->group("Workers");
  app.add_option("--remote-wait", options.remote_wait_s,
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
  app.add_option("--report", options.report_path, "write a JSON report of the run to this file")
      ->group("Input and output");
  pixelmill::TerminalOptions terminal;
  app.add_flag("--quiet", terminal.quiet,
               "print only errors and the last line (\"done: ...\"); the summary's "
               "figures are in --report")
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
  app.add_option(
         "--grace", options.grace_s,
         "after the first SIGINT, SIGTERM or SIGHUP, seconds for the downloads and filters in "
         "flight to finish and be saved; a second signal stops at once")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str()
      ->group("Input and output");
  app.add_flag("--durable", options.durable,
               "fsync every image and the images folder before its manifest line is written "
               "(safe against power loss; slower)")
      ->group("Input and output");
  app.add_flag("--sequential", options.sequential,
               "one user at a time with the filter in this process, no workers (a baseline for "
               "benchmarks)")
      ->group("Workers");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError&) {
    return UnexpectedArguments(app);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != static_cast<int>(CLI::ExitCodes::Success)) return Usage(e.what());
    app.exit(e);  // --help or --version
    return pixelmill::kExitOk;
  }
  options.command_line.assign(argv, argv + argc);
  options.collect_results = false;  // the counts and the manifest are all the command shows
  if (const std::optional<uint64_t> bytes = pixelmill::ParseByteSize(max_memory)) {
    options.max_memory = *bytes;
  } else {
    return Usage("--max-memory: '" + max_memory +
                 "' is not a byte count above 0 (plain bytes, or K, M, G, decimals allowed: e.g. "
                 "512M or 1.5G)");
  }
  // The API reads workers 0 without bind as "the hardware threads"; the flag means remote only.
  if (options.workers == 0 && options.bind.empty() && options.filter != "none" &&
      !options.dry_run && !options.sequential) {
    return Usage("--workers 0 needs --bind (remote workers only)");
  }
  // Never a PATH search: any executable named "worker" earlier on PATH would be run.
  if (options.worker_binary.empty()) options.worker_binary = WorkerBesideThisProgram();
  terminal.json_logs = log_format == "json";
  terminal.output_dir = options.output_dir;
  const char* term = std::getenv("TERM");
  terminal.interactive = ::isatty(STDERR_FILENO) == 1 && term != nullptr &&
                         std::string(term) != "dumb" && log_format == "text";
  RaiseFileLimit();
  auto output = pixelmill::TerminalOutput::Create(terminal);
  if (!output.ok()) {
    if (output.status().code() == pixelmill::Code::kUsage) return Usage(output.status().message());
    std::fprintf(stderr, "coordinator: error: %s\n", output.status().message().c_str());
    return pixelmill::kExitFatal;
  }
  pixelmill::Runner runner(options, output.value().get());
  // From here SIGINT, SIGTERM and SIGHUP ask the run to stop: drain for --grace, then stop at
  // the second. Before it nothing has been written, and a signal ends the process as usual.
  StopOnSignals(&runner);
  const pixelmill::RunSummary summary = runner.Run(input);
  StopOnSignals(nullptr);
  if (summary.exit_code == pixelmill::kExitUsage) {
    std::fprintf(stderr, "Run with --help for more information.\n");
  }
  if (options.dry_run && summary.exit_code == pixelmill::kExitOk) PrintDryRun(summary.input);
  return summary.exit_code;
}
