// TerminalOutput: what main() plugs into a run as its Observer.
//   - Events become log lines through spdlog on stderr, filtered by --log-level, as text
//     ("coordinator: warning: ...") or, with --log-format json, one JSON object a line carrying
//     the event's kind and fields (EventBuilder) beside its time, level and message.
//   - Progress on a terminal (stderr is a TTY and TERM is not "dumb"): one line redrawn in
//     place at most 10 times a second, tqdm style, fitted to the terminal's width (asked again
//     at each redraw, so a resized window is followed), cleared before any log line and at the
//     end. Not a terminal: a plain progress line every --progress-interval seconds. --quiet: none.
//   - --progress-file: a JSONL time series, one sample a second (and one at the end). Checked
//     at Create() (never one of the run's own files), opened (truncated) only at the first
//     sample, so a run refused before it starts leaves the file as it was. A failed write is
//     warned about once, and sampling stops.
//   - The summary table and the "done: " line at the end; --quiet prints the "done: " line only
//     (the table's figures are in --report).
// No colours are used, so NO_COLOR is respected by construction.
//
// Called on the run's loop thread (events before the loop starts come from the main thread).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "common/base/status.h"
#include "coordinator/events/run_observer.h"

namespace spdlog {
class logger;
}

namespace pixelmill {

struct TerminalOptions {
  bool quiet = false;               // only errors and the "done: " line
  std::string log_level = "info";   // debug, info, warning, error, off
  bool json_logs = false;           // --log-format json
  double progress_interval_s = 10;  // plain progress lines when stderr is not a terminal
  std::string progress_file;        // JSONL samples, one a second; empty for none
  std::string output_dir;           // --output: the progress file may not be one of its files
  // Whether stderr is a terminal the line can be redrawn on; main() decides (isatty, TERM).
  bool interactive = false;
};

class TerminalOutput final : public Observer {
 public:
  // Fails on a bad log level or a progress file that must not be written (code kUsage).
  static Result<std::unique_ptr<TerminalOutput>> Create(const TerminalOptions& options);
  ~TerminalOutput() override;

  void OnEvent(LogLevel level, const std::string& message) override;
  void OnStructuredEvent(const Event& event) override;
  void OnProgress(const ProgressSample& progress) override;
  void OnSummary(const std::string& text) override;
  void OnSummaryEvent(const std::string& table, const Event& done) override;

  // The progress line for `p` (no newline), e.g.
  // " 42% 4200/10.0k users, 3 failed [00:42<00:58, 100 users/s] downloads 64+10 waiting | ..."
  // in at most `width` characters: the least important parts are dropped first (memory, then
  // images waiting, jobs, downloads, time and rate, the failed count), and what is left is cut.
  static std::string Line(const ProgressSample& p, double rate, size_t width = SIZE_MAX);

 private:
  explicit TerminalOutput(const TerminalOptions& options);
  void ClearLine();
  // Writes one event (a log line or a JSON object) if its level passes.
  void Log(const Event& event);
  void WriteSample(const ProgressSample& p);
  // Opens the progress file at the first sample; false (warned once) when it cannot be written.
  bool ProgressFileReady();

  TerminalOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::FILE* progress_file_ = nullptr;
  std::string progress_path_;  // links resolved; empty for none
  bool progress_failed_ = false;
  bool line_shown_ = false;
  double last_draw_s_ = -1, last_plain_s_ = 0, last_sample_s_ = -1;
  // Smoothed rate (users a second): an exponential moving average of the recent samples.
  double rate_ = 0, rate_at_s_ = 0;
  size_t rate_done_ = 0;
  ProgressSample last_;
  bool have_last_ = false;
};

}  // namespace pixelmill
