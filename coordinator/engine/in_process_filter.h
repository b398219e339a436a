// FilterInProcess: the filter step run in the coordinator's own process (one user at a time, no
// workers), with the library and settings a worker uses (RunFilter, the run's FilterContext),
// and its result given in the shape the Dispatcher gives a worker's (JobOutcome), checked by the
// same rule (CheckFilterResult), so the engine handles both alike.
//
// Differences from a worker, by design: one attempt (a failure is final: there is no other
// worker to try), no address-space cap, and a filter step cannot be interrupted (sleep:MS runs to
// its end).
//
// Calling thread; InitFilters() must have succeeded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/filters/filter.h"
#include "common/image/image_buffer.h"
#include "coordinator/workers/dispatcher.h"

namespace pixelmill {

struct InProcessFiltered {
  JobOutcome outcome;        // attempts 1; the error kBadResult when the result fails the check
  uint32_t warnings = 0;     // libvips warnings about this image
  std::string warning_text;  // the first of them
};

// Filters `body` (the downloaded image of `user`); `worker` names this process in the outcome.
InProcessFiltered FilterInProcess(size_t user, const FilterSpec& spec, const FilterContext& context,
                                  ImageBuffer body, const std::string& worker);

}  // namespace pixelmill
