// The `crash` filter, for crash-recovery tests only: a stand-in that kills the process running
// it with SIGKILL when the image contains the poison marker (ImageBank::kPoisonMarker, what the
// fixture's ?fault=poison serves), and passes any other image on unchanged. Linked only into the
// test-only builds of the coordinator and the worker (tests/CMakeLists.txt); the production
// registry has no such filter (tests/common/filters/filter_test.cc checks it).
#include <signal.h>
#include <unistd.h>

#include <string_view>

#include "common/filters/filter.h"
#include "tests/support/image_bank.h"

namespace pixelmill {
namespace {

Result<FilterOutput> Crash(std::string_view input) {
  if (input.find(fixture::ImageBank::kPoisonMarker) != std::string_view::npos) {
    ::kill(::getpid(), SIGKILL);
    return Status::Error(Code::kInternal, "still alive after SIGKILL");
  }
  return FilterOutput{};
}

[[maybe_unused]] const bool kRegistered =
    (RegisterTestStandIn("crash", "kill the worker on marked images (crash tests)", &Crash), true);

}  // namespace
}  // namespace pixelmill
