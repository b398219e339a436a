// Error codes: every machine-readable code a Status carries, and the one table of the codes a
// user sees in manifest.jsonl.
//
// Code is what the program compares (as leveldb::Status::Code, absl::StatusCode); the name is
// what crosses a boundary: a manifest line ("error":{"code":...}), the wire protocol (a worker's
// Result.error.code), the report's failed_by_code and the public API's error_code. Only the
// manifest codes may appear in a failed user's line; README.md's "A user failed: its error
// code" table has one row per manifest code, checked against this table by
// tests/common/base/error_code_test.cc. Constant tables, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

namespace pixelmill {

enum class Code : uint8_t {
  kOk = 0,
  // Manifest codes: why a user failed (see ManifestCodes()).
  kBadUrl,
  kBlockedAddress,
  kDns,
  kConnect,
  kTimeout,
  kTruncated,
  kHttpStatus,
  kTooLarge,
  kTooManyRedirects,
  kTls,
  kBadResponse,
  kNetwork,
  kNotImage,
  kDecodeError,
  kUnsupportedFormat,
  kTooManyPixels,
  kTooManyFrames,
  kWorkerDied,
  kJobTimeout,
  kBadResult,
  kNoWorkers,
  kWrite,
  kInternal,
  kOverCapacity,
  kFilter,
  // Internal codes: a failure of the run, an input, a file or a message, never a user's line.
  kIo,           // a file or stream could not be read or written
  kFull,         // the output has no room (no space, quota, file-size limit)
  kMissing,      // a file that may be absent is absent
  kBadState,     // run.json is not one pixelmill wrote
  kBadInput,     // the users' input is not valid
  kUsage,        // a bad option or flag (exit code 2)
  kInterrupted,  // a signal stopped the work
  kUnknownFilter,
  kBadFilterArgument,
  kBind,       // cannot listen on the workers' endpoint
  kSpawn,      // a worker process could not be started
  kMalformed,  // a wire message that does not parse
  kExists,     // the output folder holds an earlier run
  kBusy,       // another run holds the output folder
  kNotDone,    // public API only: a user the run did not reach
  kLimit,      // a resource limit (the worker's memory cap) could not be set
  // New codes go above: kLimit is last (kCodeCount).
};
inline constexpr int kCodeCount = static_cast<int>(Code::kLimit) + 1;

// One row of the manifest's code table, as README.md's troubleshooting table shows it.
struct ManifestCodeInfo {
  Code code;
  std::string_view name;     // as written in manifest.jsonl
  std::string_view meaning;  // what happened (README's "what happened", Markdown)
  std::string_view action;   // what to do (README's "what to do", Markdown)
};

// The manifest codes, in README order.
const std::vector<ManifestCodeInfo>& ManifestCodes();

// The name of `code` ("ok" for kOk), as written at every boundary.
std::string_view CodeName(Code code);

// The code named `name`, or nullopt for a name no Code has (e.g. from a newer worker).
std::optional<Code> CodeFromName(std::string_view name);

// Whether `code` may be written as a failed user's code in manifest.jsonl.
bool IsManifestCode(Code code);

// Orders codes by name: maps keyed by Code list their codes as the report always has.
struct CodeNameLess {
  bool operator()(Code a, Code b) const { return CodeName(a) < CodeName(b); }
};

// Prints the name (test failure messages).
std::ostream& operator<<(std::ostream& os, Code code);

}  // namespace pixelmill
