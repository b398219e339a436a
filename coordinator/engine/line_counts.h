// LineCounts: the manifest lines a run wrote, counted where both runners (the Pipeline and
// --sequential) count them, so that the summary, the report's "failed_by_code" and the verdict
// read the same figures whichever ran. A value; the runner's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "common/base/error_code.h"
#include "coordinator/input/user_store.h"

namespace pixelmill {

struct LineCounts {
  size_t ok = 0, failed = 0;
  std::map<Code, uint64_t, CodeNameLess> failed_by_code;  // failed lines by error code

  // A line was written for a user: `status` kOk, or kFailed with error `code`.
  void Count(UserStatus status, Code code) {
    if (status == UserStatus::kOk) {
      ++ok;
      return;
    }
    ++failed;
    ++failed_by_code[code];
  }
};

}  // namespace pixelmill
