// The output folders of one sharded run (--shard K/N), as `coordinator merge` is given them:
// each one's run.json read, then the set checked as a whole. It must hold every shard of 0..N-1
// once, each complete, all of the same input with the same settings (the filter and everything
// else run.json compares on --resume). Every problem is named, one a line, with its folder.
//
// Plain blocking functions; one thread.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"
#include "coordinator/engine/run_state.h"

namespace pixelmill {

struct ShardFolder {
  std::string path;  // as given
  RunState state;    // its run.json
};

// Reads every folder's run.json and checks the set; the shards in order 0..N-1. Code kUsage when
// no folder is given, kBadState listing every folder that is missing, unfinished, unreadable,
// given twice or different from shard 0.
Result<std::vector<ShardFolder>> ReadShardSet(const std::vector<std::string>& folders);

}  // namespace pixelmill
