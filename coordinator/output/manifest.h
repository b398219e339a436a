// The manifest's lines (contract: coordinator/output/README.md): one JSON object per line,
// a ManifestRecord, written by ToLine() and read back by ReadRecord() -- here and nowhere else.
// An ok line names the image that is already in place:
//   {"id":7,"status":"ok","output":"images/7.jpg","bytes":1234,"format":"jpeg",...}
// A failed line carries a machine-readable code and a human message:
//   {"id":8,"status":"failed","error":{"code":"http_status","message":"..."},"attempts":3}
//
// Plain functions; any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/image/image_buffer.h"
#include "common/image/image_format.h"
#include "coordinator/input/user_store.h"
#include "pixelmill/pixelmill.h"

namespace pixelmill {

// One manifest line. Written: every field of its status (ok or failed); read: a field that is
// missing or of another type keeps its default.
struct ManifestRecord {
  OwnedUserId id;
  // "ok" or "failed" when written; read as found ("" when absent or not a string).
  std::string status = "ok";
  // ok: the image, relative to OUT (OutputLayout::ImagePath), and how it was obtained.
  std::string output;
  uint64_t bytes = 0;
  bool has_bytes = false;  // read: the line gave "bytes"
  OutputFormat format = OutputFormat::kUnknown;
  uint32_t width = 0, height = 0;
  uint32_t download_attempts = 0;
  double download_ms = 0;
  // ok and filtered by a worker: the line then names the filter, the worker and the dispatches
  // it took.
  bool filtered = false;
  uint32_t filter_attempts = 0;
  std::string filter;  // canonical spec text
  uint64_t cpu_micros = 0;
  std::string worker;
  // failed: why.
  std::string error_code, error_message;
  // Every try pixelmill made for the user: download attempts plus dispatches to a worker. An
  // ok line's is TotalAttempts(); a failed line's is given.
  uint32_t attempts = 0;
  // The user whose image (or failure) this user's line repeats (--dedupe): its id, written last
  // on either status; none for a user that was processed itself.
  std::optional<OwnedUserId> deduplicated_from;

  bool ok() const { return status == "ok"; }
};

// The line (without its newline) of `record`.
std::string ToLine(const ManifestRecord& record);

// Reads `line` (one JSON object, nothing after it) into `record`; false unless it has an
// "id", an integer or a string. `line` must be followed by simdjson::SIMDJSON_PADDING readable
// bytes
// (`capacity` counts them).
bool ReadRecord(std::string_view line, size_t capacity, ManifestRecord& record);
// The same for any `line` (copied into `scratch`, padded).
bool ReadRecordCopy(std::string_view line, std::string& scratch, ManifestRecord& record);

// `record` as the C++ API's UserResult: ok or failed, its image's absolute path under
// `output_dir` (absolute), size, timings, error and dedupe leader.
UserResult ToUserResult(const ManifestRecord& record, const std::filesystem::path& output_dir);

// Before `user` of `store` is committed with `bytes`: marks it pending under the image's format
// (which names its file) and fills `record`'s id, output path (fanned out or not: `fan_out`),
// size and format. Returns the attempts its line counts (TotalAttempts).
uint32_t PrepareOkLine(UserStore& store, size_t user, const ImageBuffer& bytes, bool fan_out,
                       ManifestRecord& record);

// An ok record's "attempts": download attempts plus, when filtered, dispatches to a worker.
uint32_t TotalAttempts(const ManifestRecord& record);

// The line (without its newline) of a user that failed with `error` (its code's name, e.g.
// "http_status", and its message), after `attempts` attempts (download attempts plus
// dispatches, as above). REQUIRES: IsManifestCode(error.code())
std::string FailedLine(UserId id, const Status& error, uint32_t attempts,
                       std::optional<UserId> deduplicated_from = std::nullopt);

}  // namespace pixelmill
