// coordinator: flags in, exit code out. The command is a client of the C++ API
// (include/pixelmill/pixelmill.h): it turns its flags into RunOptions, plugs its terminal output
// in as the run's Observer, turns signals into Runner::Cancel, and returns the run's exit code.
// It also does what the API leaves to its host: SIGPIPE and SIGXFSZ ignored, the descriptor
// limit raised, a UTF-8 locale for IDN host names, and where the worker executable is. The
// flags themselves are declared from the option table (command_flags.h).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <clocale>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/base/version.h"
#include "coordinator/api/worker_binary.h"
#include "coordinator/cli/command_flags.h"
#include "coordinator/cli/merge_command.h"
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

// --dry-run's figures, on stdout; `shard` is --shard's K/N ("" when whole).
void PrintDryRun(const pixelmill::InputSummary& in, const std::string& shard) {
  const double users = static_cast<double>(in.users);
  const double per_user = users > 0 ? static_cast<double>(in.store_bytes) / users : 0;
  const double fields = users > 0 ? static_cast<double>(in.store_field_bytes) / users : 0;
  const double mb_per_s =
      in.load_seconds > 0 ? static_cast<double>(in.bytes) / 1e6 / in.load_seconds : 0;
  std::printf("format:            %s\n", in.format.c_str());
  std::printf("users loaded:      %llu\n", static_cast<unsigned long long>(in.users));
  std::printf("bad records:       %llu\n", static_cast<unsigned long long>(in.bad_records));
  if (!shard.empty()) {
    std::printf("shard %s:%*s%llu users (%llu records of other shards)\n", shard.c_str(),
                static_cast<int>(shard.size() < 12 ? 12 - shard.size() : 1), "",
                static_cast<unsigned long long>(in.users),
                static_cast<unsigned long long>(in.other_shards));
  }
  std::printf("store bytes/user:  %.1f (fields %.1f + fixed %.1f)\n", per_user, fields,
              per_user - fields);
  std::printf("store bytes:       %llu\n", static_cast<unsigned long long>(in.store_bytes));
  std::printf("load time:         %.3f s (%.1f MB/s, %llu bytes)\n", in.load_seconds, mb_per_s,
              static_cast<unsigned long long>(in.bytes));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "merge") {
    return pixelmill::RunMergeCommand(argc - 1, argv + 1);
  }
  PrepareProcess();
  pixelmill::CommandLine line;
  CLI::App app{"pixelmill coordinator: fetch every user's profile image, filter it, save it."};
  app.set_version_flag("--version", pixelmill::kVersion);
  pixelmill::DeclareFlags(app, line);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError&) {
    return UnexpectedArguments(app);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != static_cast<int>(CLI::ExitCodes::Success)) return Usage(e.what());
    app.exit(e);  // --help or --version
    return pixelmill::kExitOk;
  }
  pixelmill::RunOptions& options = line.run;
  options.command_line.assign(argv, argv + argc);
  options.collect_results = false;  // the counts and the manifest are all the command shows
  if (options.worker_binary.empty()) {
    options.worker_binary = pixelmill::FindWorkerBinary(pixelmill::WorkerSearch::kBesideProgram);
  }
  pixelmill::TerminalOptions terminal = line.command;
  terminal.json_logs = line.command.log_format == "json";
  terminal.output_dir = options.output_dir;
  const char* term = std::getenv("TERM");
  terminal.interactive = ::isatty(STDERR_FILENO) == 1 && term != nullptr &&
                         std::string(term) != "dumb" && !terminal.json_logs;
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
  const pixelmill::RunSummary summary = runner.Run(line.command.input);
  StopOnSignals(nullptr);
  if (summary.exit_code == pixelmill::kExitUsage) {
    std::fprintf(stderr, "Run with --help for more information.\n");
  }
  if (options.dry_run && summary.exit_code == pixelmill::kExitOk)
    PrintDryRun(summary.input, options.shard);
  return summary.exit_code;
}
