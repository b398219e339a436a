// The check of a filtered image before it is saved: its bytes must be an image whose header
// parses, in the format the run asked for. One rule for both places a filter runs: a worker's
// Result (the Dispatcher checks it on the coordinator) and a filter run in the coordinator's
// own process (one user at a time, no workers).
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/base/status.h"
#include "common/filters/filter.h"
#include "common/image/image_format.h"
#include "common/image/image_probe.h"

namespace pixelmill {

// Why a filtered image in `format` is not what the run asked for, or "". Stand-in filters pass
// the downloaded image on, whatever format it had.
std::string UnexpectedFormat(const FilterSpec& spec, const FilterContext& context,
                             OutputFormat format);

// The header of `bytes` when they are a valid result of `spec` with `context`; else a failure
// whose message says what is wrong with them.
Result<ImageHeader> CheckFilterResult(const FilterSpec& spec, const FilterContext& context,
                                      std::string_view bytes);

}  // namespace pixelmill
