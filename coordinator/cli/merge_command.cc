#include "coordinator/cli/merge_command.h"

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "coordinator/merge/merge.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {

int RunMergeCommand(int argc, char** argv) {
  CLI::App app{
      "coordinator merge: join the output folders of a sharded run (--shard K/N) into one: one "
      "manifest with a line per user, one report. Every shard 0..N-1 must be given, complete, "
      "and of the same input and settings."};
  app.name("coordinator merge");
  MergeOptions options;
  bool link = false, move = false;
  app.add_option("--output", options.output,
                 "the merged folder ALL: manifest.jsonl, report.json, rejects.jsonl (and "
                 "images/ with --link or --move)")
      ->required();
  CLI::Option* link_flag = app.add_flag(
      "--link", link, "hard-link every image into ALL/images (a copy across file systems)");
  app.add_flag("--move", move,
               "move every image into ALL/images (the shard folders keep their manifests only)")
      ->excludes(link_flag);
  app.add_option("shards", options.shards, "the shard folders, in any order")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      app.exit(e);
      return kExitOk;
    }
    std::fprintf(stderr, "coordinator merge: error: %s\nRun with --help for more information.\n",
                 e.what());
    return kExitUsage;
  }
  options.images = link   ? ImagePlacement::kLink
                   : move ? ImagePlacement::kMove
                          : ImagePlacement::kLeave;
  Result<MergeFigures> merged = MergeShards(options);
  if (!merged.ok()) {
    std::fprintf(stderr, "coordinator merge: error: %s\n", merged.status().message().c_str());
    return merged.status().code() == Code::kUsage ? kExitUsage : kExitFatal;
  }
  const MergeFigures& f = merged.value();
  std::fprintf(stderr,
               "coordinator: merged %zu shard(s) into %s: %llu users, %llu ok, %llu failed "
               "(images %s); %.2f s from the first start to the last end; merge %.2f s\n",
               f.shards.size(), options.output.c_str(), static_cast<unsigned long long>(f.users),
               static_cast<unsigned long long>(f.ok), static_cast<unsigned long long>(f.failed),
               f.images.c_str(), f.wall_seconds(), f.merge_seconds);
  return kExitOk;
}

}  // namespace pixelmill
