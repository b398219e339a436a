#include "coordinator/coordinator.h"

#include <cstdio>
#include <optional>

#include "common/user_store.h"
#include "coordinator/input_stage.h"
#include "coordinator/output_dir.h"
#include "coordinator/pipeline.h"
#include "coordinator/report.h"

namespace pixelmill {
namespace {

void PrintDryRun(const LoadStats& stats, const UserStore& store) {
  const double users = static_cast<double>(store.size());
  const double per_user = users > 0 ? static_cast<double>(store.MemoryBytes()) / users : 0;
  const double fields = users > 0 ? static_cast<double>(store.FieldBytes()) / users : 0;
  const double mb_per_s =
      stats.seconds > 0 ? static_cast<double>(stats.bytes) / 1e6 / stats.seconds : 0;
  std::printf("format:            %s\n", std::string(InputFormatName(stats.format)).c_str());
  std::printf("users loaded:      %llu\n", static_cast<unsigned long long>(stats.users));
  std::printf("bad records:       %llu\n", static_cast<unsigned long long>(stats.bad_records));
  std::printf("store bytes/user:  %.1f (fields %.1f + fixed %.1f)\n", per_user, fields,
              per_user - fields);
  std::printf("store bytes:       %zu\n", store.MemoryBytes());
  std::printf("load time:         %.3f s (%.1f MB/s, %llu bytes)\n", stats.seconds, mb_per_s,
              static_cast<unsigned long long>(stats.bytes));
}

}  // namespace

int RunCoordinator(const Options& options) {
  // The output folder is claimed (locked, checked for an earlier run) before anything is
  // written to it, rejects.jsonl included; the claim lasts until the run is over.
  std::optional<OutputDir> output;
  if (!options.dry_run) {
    Result<OutputDir> claimed = OutputDir::Prepare(options.output, options.overwrite);
    if (!claimed.ok()) {
      std::fprintf(stderr, "error: %s\n", claimed.status().message().c_str());
      return kExitFatal;
    }
    output.emplace(std::move(claimed).value());
  }
  UserStore store;
  Result<LoadStats> stats = LoadInput(options, store);
  if (!stats.ok()) {
    std::fprintf(stderr, "error: %s\n", stats.status().message().c_str());
    return kExitFatal;
  }
  if (options.dry_run) {
    PrintDryRun(stats.value(), store);
    return kExitOk;
  }
  PipelineResult run;
  {
    Pipeline pipeline(options, store);
    run = pipeline.Run();
  }
  if (!run.started) return kExitFatal;  // the output folder could not be opened: said why
  // The report first: if stderr is gone (a closed pipe), the summary line is what is lost.
  int exit_code = run.exit_code;
  if (!options.report.empty()) {
    if (Status s = WriteReport(options.report, stats.value(), run); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      exit_code = kExitFatal;
    }
  }
  std::fprintf(stderr,
               "done: %zu users, %zu ok, %zu failed in %.2f s (%llu requests, %llu retries)\n",
               store.size(), run.ok, run.failed, run.wall_seconds,
               static_cast<unsigned long long>(run.downloads.requests),
               static_cast<unsigned long long>(run.downloads.retries));
  return exit_code;
}

}  // namespace pixelmill
