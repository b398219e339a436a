// RunState: the identity of a run, kept in OUT/run.json so that --resume continues the same job
// and refuses another one. It names the input file (absolute path, size, modification time and
// a hash of its first and last MiB: cheap even for a file of GBs) and everything that shapes a
// result (the filter spec's canonical text, output format, quality, metadata policy, pixel
// limit), and says whether the run completed. Standard input is known by the users read from it.
//
// Plain blocking functions; the coordinator calls them on its main thread, while it holds the
// output folder's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/filters/filter.h"
#include "coordinator/engine/options.h"
#include "coordinator/input/record_fields.h"
#include "coordinator/input/shard.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

struct InputIdentity {
  // absolute; "-" for standard input, "<users>" and "<stream>" for the C++ API's inputs
  std::string path;
  uint64_t size = 0;  // bytes of a file or stream; users of standard input or a vector
  int64_t mtime_ns = 0;
  uint64_t head_hash = 0;  // FNV-1a 64 of the first MiB (the whole file if smaller)
  uint64_t tail_hash = 0;  // FNV-1a 64 of the last MiB

  bool is_stdin() const { return path == "-"; }
};

struct RunState {
  InputIdentity input;
  std::string filter = "none";   // canonical spec text
  std::string format = "input";  // as --format takes it: input, jpeg, png, webp
  int quality = 85;
  bool keep_metadata = false;
  uint64_t max_pixels = 0;
  bool complete = false;
  // The part of the input this run takes (--shard), and what it found there: its users, and the
  // records of the whole input (every shard's users and bad records), the same for each shard.
  Shard shard;
  uint64_t users = 0;
  uint64_t input_records = 0;
  // The images' layout: in fan-out subfolders (OutputLayout::ImagePath).
  bool fan_out = false;
  // Where the records keep the users' fields (--id-field, ...; older files: the defaults).
  RecordFields fields;
  // Unix time in ns: when the run started (its first part, when it was resumed), and when it
  // completed (0 until then). `coordinator merge` reads both.
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
};

// Stats and hashes the input file `input` ("-": standard input, which is identified by its
// users once loaded: see IdentifyUsers). Code kIo when it cannot be inspected.
Result<InputIdentity> IdentifyInput(const std::string& input);

// The identity of users that have no file to stat (standard input "-", the C++ API's vector
// "<users>"): `path`, their count as the size, and FNV-1a 64 of every id, name and URL.
InputIdentity IdentifyUsers(const UserStore& store, std::string path);
// The identity of an input read once (the C++ API's "<stream>"), as a file's: its `size` and
// the hashes of its first and last kIdentityEndBytes, `head` and `tail` (each the whole input
// when it is shorter).
inline constexpr size_t kIdentityEndBytes = size_t{1} << 20;
InputIdentity IdentifyEnds(std::string_view head, std::string_view tail, uint64_t size,
                           std::string path);

// The state of the run `options` describe (not complete): stats and hashes the input file.
// Code kIo when the input cannot be inspected.
Result<RunState> CurrentRunState(const Options& options);
// The state of the run `options` describe for an input already identified (users loaded by a
// caller of the C++ API).
RunState RunStateFor(const Options& options, InputIdentity input);

// Replaces OUT/run.json (OutputLayout::kRunState) by `state`, atomically and durably (fsynced).
// Code kIo on failure.
Status WriteRunState(const std::string& out_dir, const RunState& state);

// Writes `state` with complete = true and finished_ns now: the run ended with every user's line
// in the manifest.
Status MarkRunComplete(const std::string& out_dir, RunState state);

// Reads OUT/run.json. Code kMissing when there is none, kBadState when it is not a run
// state this version wrote, kIo when it cannot be read.
Result<RunState> ReadRunState(const std::string& out_dir);

// What differs between a recorded run and the current one, one human phrase each
// ("input file changed: size 1200 -> 1300", "filter changed: blur:5 -> blur:3"); empty when
// it is the same run. A run on standard input (either one) always differs: it cannot be checked.
// The shard is not compared here: another shard's folder is never resumed (ShardMismatch).
std::vector<std::string> DescribeChanges(const RunState& recorded, const RunState& current);

// Why a run of shard `current` cannot continue the folder of a run of shard `recorded` ("this
// folder holds shard 1/4 ..."), or "" when they are the same shard.
std::string ShardMismatch(const Shard& recorded, const Shard& current);

}  // namespace pixelmill
