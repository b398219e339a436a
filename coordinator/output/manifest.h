// The manifest's lines (contract: README.md, "Output"): one JSON object per
// line, built here and nowhere else. An ok line names the image that is already in place:
//   {"id":7,"status":"ok","output":"images/7.jpg","bytes":1234,"format":"jpeg",...}
// A failed line carries a machine-readable code and a human message:
//   {"id":8,"status":"failed","error":{"code":"http_status","message":"..."},"attempts":3}
// "format" uses --format's words (jpeg, png, webp, gif...; earlier versions wrote the
// extension, "jpg": readers take both, FormatFromName). "attempts" is every try pixelmill made for
// the user on either line: its download attempts plus its dispatches to a worker (ok lines also
// carry "download_attempts" and, when filtered, "filter_attempts").
//
// Plain functions; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/image/image_buffer.h"
#include "common/image/image_format.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

// How a user's image was obtained and filtered, for its ok line.
struct OkLineInfo {
  int64_t id = 0;
  std::string output;  // relative to OUT, e.g. images/7.jpg
  uint64_t bytes = 0;
  OutputFormat format = OutputFormat::kUnknown;
  uint32_t width = 0, height = 0;
  uint32_t download_attempts = 0;
  double download_ms = 0;
  // Set when a worker filtered the image; the line then names the filter, the worker and the
  // dispatches it took.
  bool filtered = false;
  uint32_t filter_attempts = 0;
  std::string filter;  // canonical spec text
  uint64_t cpu_micros = 0;
  std::string worker;
};

// The line (without its newline) of a user whose image was saved.
std::string OkLine(const OkLineInfo& info);

// Before `user` of `store` is committed with `bytes`: marks it pending under the image's format
// (which names its file) and fills `info`'s id, output path, size and format. Returns the
// attempts its line counts (TotalAttempts).
uint32_t PrepareOkLine(UserStore& store, size_t user, const ImageBuffer& bytes, OkLineInfo& info);

// The user's "attempts": download attempts plus, when filtered, dispatches to a worker.
uint32_t TotalAttempts(const OkLineInfo& info);

// The line (without its newline) of a user that failed with `code` (e.g. "http_status") and a
// human `message`, after `attempts` attempts (download attempts plus dispatches, as above).
std::string FailedLine(int64_t id, const std::string& code, const std::string& message,
                       uint32_t attempts);

}  // namespace pixelmill
