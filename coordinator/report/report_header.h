// The report's header: which pixelmill ran, when, and with what (--report's "pixelmill",
// "started_at", "command_line" and "options" keys). Secrets are never written: every URL
// (a --proxy's included, with or without a scheme) goes through RedactUrl, so user:password@
// and query values come out as ***. Plain functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "coordinator/engine/options.h"

namespace pixelmill {

// Who ran the report's run and how. Empty fields are left out of the report.
struct ReportContext {
  std::string started_at;                 // ISO 8601 UTC (IsoUtcTime), when the run began
  std::vector<std::string> command_line;  // as given (argv); written redacted
  const Options* options = nullptr;       // what the run ran with; written redacted
};

// `command_line` with every secret hidden, as a JSON array of strings.
std::string RedactedCommandLineJson(const std::vector<std::string>& command_line);

// The options that shape a run (filter, output, workers, downloads, memory, modes), with their
// values after defaults, as a JSON object; the proxy redacted.
std::string OptionsJson(const Options& options);

}  // namespace pixelmill
