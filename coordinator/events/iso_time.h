// IsoUtcTime: a wall-clock time as the logs and the report write it, ISO 8601 in UTC with
// milliseconds, e.g. "2024-05-01T12:34:56.789Z". Any thread.
#pragma once

#include <chrono>
#include <string>

namespace pixelmill {

std::string IsoUtcTime(std::chrono::system_clock::time_point time);

}  // namespace pixelmill
