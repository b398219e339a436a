// EventLog: a Observer that keeps every event's message, for tests that check what a stage
// said. Header-only; the thread the stage runs on.
#pragma once

#include <string>
#include <vector>

#include "coordinator/events/run_observer.h"

namespace pixelmill::testing {

struct EventLog : Observer {
  void OnEvent(LogLevel, const std::string& message) override { lines.push_back(message); }
  // Whether some message contains `part`.
  bool Has(const std::string& part) const {
    for (const std::string& line : lines) {
      if (line.find(part) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::string> lines;
};

}  // namespace pixelmill::testing
