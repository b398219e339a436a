// Filters: the registry of what a worker (or --sequential) can do to an image. A filter spec is
// "name" or "name:argument", e.g. "blur:5", "spin:200", "none". Filters available now:
//   none      the image unchanged
//   sleep:MS  sleeps MS milliseconds, image unchanged (the seed's simulated filter)
//   spin:MS   burns MS milliseconds of CPU, image unchanged (an honest CPU-bound stand-in)
//   crash     kills the process running it with SIGKILL when the image contains kCrashMarker,
//             else passes it unchanged: a poison image for crash-recovery tests
// The libvips filters plug in here beside them. Stateless; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/image_buffer.h"
#include "common/status.h"

namespace pixelmill {

inline constexpr std::string_view kCrashMarker = "pixelmill:crash";

struct FilterSpec {
  std::string name;
  std::optional<double> argument;
  std::string text;  // the spec as written, e.g. "spin:200"
};

// Parses and checks a spec ("unknown_filter" / "bad_filter_argument" on failure).
// `default_argument` (the seed's --intensity) fills in when the spec gives none.
Result<FilterSpec> ParseFilterSpec(std::string_view spec,
                                   std::optional<double> default_argument = std::nullopt);

struct FilterOutput {
  std::optional<ImageBuffer> bytes;  // nullopt: the output is the input, unchanged
  std::string content_type;          // empty when unchanged
  uint32_t width = 0, height = 0;    // 0 when not decoded
};

// Runs the filter on `input`. Failures are values (e.g. code "decode"), never exceptions.
Result<FilterOutput> RunFilter(const FilterSpec& spec, std::string_view input);

// True for filters that finish at once and cannot block ("none"): a worker runs them without
// handing them to its compute thread.
bool IsInstant(const FilterSpec& spec);

// Names of every registered filter, for Hello and --help.
std::vector<std::string> FilterNames();

}  // namespace pixelmill
