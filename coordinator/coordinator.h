// The coordinator's job from start to finish: load the users, then (in later stages) download,
// dispatch and save. Returns the process exit code; see options.h.
#pragma once

#include "coordinator/options.h"

namespace pixelmill {

int RunCoordinator(const Options& options);

}  // namespace pixelmill
