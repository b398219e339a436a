// Loading users from untrusted JSON into a UserStore.
//
// Two formats, detected from the first non-blank byte: a JSON array of objects ('[') or JSONL,
// one object per line ('{'). JSONL is streamed in fixed-size chunks through simdjson's
// iterate_many, so memory stays bounded whatever the file size; a JSON array is parsed whole.
// Each object needs "id" (int64), "name" (string, may be empty) and "image_url" (non-empty
// string); other fields are ignored. Ids must be unique.
//
// Bad records are located by line (JSONL, 1-based) or array index (0-based) and field. The
// caller chooses how many to tolerate; each one is reported through a callback as it is found.
// Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "coordinator/input/byte_source.h"
#include "coordinator/input/input_file.h"  // the ByteSource of a file or stdin
#include "coordinator/input/record_fields.h"
#include "coordinator/input/shard.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

enum class InputFormat { kJsonl, kJsonArray, kCsv };
std::string_view InputFormatName(InputFormat format);

struct LoadOptions {
  // Bad records tolerated (skipped and reported). 0: the first bad record fails the load.
  size_t max_bad_records = 0;
  // Longest record (JSONL line) accepted, in bytes.
  size_t max_record_bytes = 1 << 20;
  // How many bad records a failed load describes in its message.
  size_t max_errors_shown = 10;
  // Asked between chunks and records and while waiting for input (see ByteSource::Read): true
  // stops the load with code kInterrupted.
  std::function<bool()> stop_requested = nullptr;
  // Memory the load may take (the store, the read buffer, a JSON array's parse); 0: no limit.
  // Past it the load fails with code kBadInput, naming the limit and `memory_limit_why`.
  uint64_t max_memory_bytes = 0;
  std::string memory_limit_why = {};
  // The part of the input this run takes (--shard): users of other shards, and bad records on
  // every shard but 0 (Shard::TakesBadRecords), are passed over, counted in LoadStats.
  Shard shard = {};
  // Where records keep their fields (--id-field, ...). REQUIRES: RecordFieldsProblem is "".
  RecordFields fields = {};
};

struct BadRecord {
  bool by_line = true;  // position is a 1-based line (JSONL) or a 0-based array index
  uint64_t position = 0;
  std::string field;  // empty when not about one field
  std::string message;
  std::string_view raw;  // the record's text (may be cut short); valid during the callback

  // "users.jsonl:12: field \"id\": missing field" or "users.json[3]: ...".
  std::string Describe(std::string_view source) const;
};

struct LoadStats {
  InputFormat format = InputFormat::kJsonl;
  uint64_t users = 0;         // added to the store
  uint64_t bad_records = 0;   // skipped
  uint64_t other_shards = 0;  // records of other shards (LoadOptions::shard), passed over
  uint64_t bytes = 0;         // input bytes read
  double seconds = 0;
};

// Called for every bad record as it is found, before the load decides whether to go on.
using BadRecordFn = std::function<void(const BadRecord&)>;

// Appends the users of `input` to `store`. Fails with code kBadInput when the input is not
// usable (not JSON, empty, too many bad records: the message lists the first few, one a line;
// over options.max_memory_bytes), kIo when it cannot be read and kInterrupted when
// options.stop_requested said so. On failure the store holds what was loaded so far.
Result<LoadStats> LoadUsers(ByteSource& input, const LoadOptions& options, UserStore& store,
                            const BadRecordFn& on_bad = nullptr);

}  // namespace pixelmill
