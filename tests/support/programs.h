// The programs under test, as this build made them (paths set by tests/CMakeLists.txt).
#pragma once

#include <string>

namespace pixelmill::testing {

inline const std::string kCoordinatorBinary = PIXELMILL_COORDINATOR;
inline const std::string kWorkerBinary = PIXELMILL_WORKER;
inline const std::string kImageApiBinary = PIXELMILL_IMAGE_API;
// Test-only builds with the `crash` filter (tests/support/crash_filter.cc), for crash tests.
inline const std::string kCrashCoordinatorBinary = PIXELMILL_CRASH_COORDINATOR;
inline const std::string kCrashWorkerBinary = PIXELMILL_CRASH_WORKER;
inline const std::string kKeygenBinary = PIXELMILL_KEYGEN;

}  // namespace pixelmill::testing
