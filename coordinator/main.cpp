// coordinator: flags in, exit code out. Everything else lives in RunCoordinator.
#include <CLI/CLI.hpp>

#include "common/version.h"
#include "coordinator/coordinator.h"
#include "coordinator/options.h"

int main(int argc, char** argv) {
  pixelmill::Options options;
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? pixelmill::kExitOk : pixelmill::kExitUsage;
  }
  if (options.output.empty() && !options.dry_run) {
    std::fprintf(
        stderr,
        "error: --output is required (or use --dry-run)\nRun with --help for more information.\n");
    return pixelmill::kExitUsage;
  }
  return pixelmill::RunCoordinator(options);
}
