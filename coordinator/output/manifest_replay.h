// Resuming from an earlier run's manifest. ReplayManifest reads OUT/manifest.jsonl into the
// store's outcomes, so that the pipeline (which only processes pending users) redoes exactly
// the users without a usable result; CompactManifest then rewrites the manifest to one line per
// user. Both stream the file (it can be GBs): memory is one IdIndex over the store plus, for
// compaction, 8 bytes per user.
//
// Blocking file I/O; called on the coordinator's main thread while it holds the folder's lock
// and before (replay) or after (compaction) the pipeline runs, never during it.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

struct ReplayStats {
  uint64_t lines = 0;        // complete lines the manifest holds (after a torn end is cut)
  uint64_t torn_cut = 0;     // lines cut off the end: unterminated, or not an entry
  uint64_t torn_bytes = 0;   // bytes cut off the end
  uint64_t skipped = 0;      // users whose last line is ok with its file intact: not redone
  uint64_t failed_kept = 0;  // users whose last line is failed, kept as failed
  uint64_t redo = 0;         // users with a line who are redone (file missing or changed,
                             // failed with retry_failed, unknown status)
  uint64_t unknown_ids = 0;  // lines whose id is not in the store (dropped at compaction)
  uint64_t bad_lines = 0;    // complete lines that are not entries (dropped at compaction)
  // No id has two lines, every line's id is in the store and every line is an entry.
  bool compact = true;
};

// Reads OUT/manifest.jsonl (none: nothing to replay) into `store`. The last line of an id wins:
// ok with OUT/<output> a regular file (not a symlink) of exactly the recorded bytes -> kSkipped
// with the format of its extension; failed -> kFailed unless `retry_failed`; anything else
// stays kPending. A torn end (unterminated or unparsable last lines) is cut off the file first.
// An ok line's output must be the run's layout's path (`fan_out`: OutputLayout::ImagePath).
// REQUIRES: every user in `store` is kPending and has a unique id. Code kIo on failure.
Result<ReplayStats> ReplayManifest(const std::string& out_dir, UserStore& store, bool retry_failed,
                                   bool fan_out);

// Rewrites OUT/manifest.jsonl to hold, of each store user's lines, only the last one, in the
// order the kept lines had; lines of unknown ids and lines that are not entries go. Streams
// into a temporary file that is fsynced and renamed over the manifest, so a crash leaves either
// manifest whole. Does not rewrite a manifest that is already compact. Code kIo on failure.
Status CompactManifest(const std::string& out_dir, const UserStore& store);

}  // namespace pixelmill
