// The pieces of the C++ API (api.cc) that are not the Runner: RunOptions checked and turned
// into the internal Options, users from a vector or a stream turned into a LoadedUsers, and a
// finished run's manifest read back into records.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/status.h"
#include "coordinator/engine/options.h"
#include "coordinator/run/coordinator.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {

// RunOptions checked against the option table (option_table.h: the values the command line
// accepts, with its messages) and the rules between options, as Options with the derived
// fields filled in. Code kUsage for a bad option (exit code 2), kIo for a worker executable
// that cannot be found or run (exit code 1).
Result<Options> ToOptions(const RunOptions& in);

// Users checked as the loader checks records: unique ids, a URL each; those of `shard` kept.
Result<LoadedUsers> FromVector(const std::vector<User>& users, const Shard& shard);

// A JSON array or JSONL read from `in` as the loader asks for it (never copied whole); bad records
// as the loader treats them (up to options.max_bad_records skipped, their fields where
// options.record_fields say), the users of options.input_shard kept.
Result<LoadedUsers> FromStream(std::istream& in, const Options& options);

// The manifest of the run in `out_dir` as id -> record (the last line of an id wins, as for a
// resume).
std::unordered_map<std::string, UserResult> ReadRecords(const std::string& out_dir);

}  // namespace pixelmill
