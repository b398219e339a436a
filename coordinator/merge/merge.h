// `coordinator merge`: the output folders of a sharded run (--shard K/N) joined into one. The
// shards are checked first (shard_set.h: all present, complete, the same run); then ALL gets
// one manifest with exactly one line per user of the input (ids checked unique, each shard's
// line count checked against its users, each ok line's image checked on disk at its recorded
// size), the shards' rejects, and one report (merge_report.h).
//
// The images stay in the shard folders, each manifest line naming its image's path relative
// to ALL ("../shard-0/images/7.jpg"), or are hard-linked (--link) or moved (--move) into
// ALL/images in the layout of a run of all the users (OutputLayout::ImagePath, fanned out above
// its threshold). A link that crosses file systems becomes a copy, and so does a move.
//
// Every file of ALL is written to a temporary name and renamed, the manifest last: a merge that
// stops leaves ALL's earlier files whole, and can be rerun (a moved image found in place already
// counts). ALL/.lock is held while it runs.
//
// Blocking; one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "coordinator/merge/merge_report.h"

namespace pixelmill {

enum class ImagePlacement { kLeave, kLink, kMove };

struct MergeOptions {
  std::string output;               // ALL
  std::vector<std::string> shards;  // the shard folders, in any order
  ImagePlacement images = ImagePlacement::kLeave;
};

// Merges; the figures it wrote in ALL/report.json. Code kUsage for a bad ALL (one of the
// shards, or a run's own folder), kBadState when the shards do not make one whole run (every
// problem named), kIo when a file cannot be read or written.
Result<MergeFigures> MergeShards(const MergeOptions& options);

}  // namespace pixelmill
