// RunMetrics: the run's figures and its health-watching, fed by the pipeline from the events it
// already handles (a download ended, a result was filtered, a line was written, a pass of the
// pump) and read once at the end into RunFigures, which the report and the verdict read.
//
//   - stage waits: the time each stage spent blocked on the next one, sampled once a pump pass;
//   - latencies: each filtered user's worker CPU time, each user's time from the start of its
//     download to its manifest line;
//   - the most workers connected at once, the run's wall time;
//   - health: the memory budget full for kBudgetFullWarning at a stretch, and a retry storm
//     (at least kStormRetries retries making a fifth or more of the requests of a
//     kStormWindow): one warning line each, never one per user.
//
// Every time comes from the Clock given (a VirtualClock in tests). Owned by the Pipeline; its
// loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "common/base/histogram.h"
#include "coordinator/events/clock.h"
#include "coordinator/events/run_observer.h"

namespace pixelmill {

// Seconds a stage spent blocked on the next one: the report's answer to "what bound this run".
struct StageWaits {
  double downloads_waiting_s = 0;  // no download could start: the byte budget was full
  double images_waiting_s = 0;     // downloaded images waited for a worker with credit
  double results_waiting_s = 0;    // results waited for the disk (every writer busy)
};

// The figures RunMetrics measured, as the report and the verdict read them.
struct RunFigures {
  double wall_seconds = 0;
  StageWaits waits;
  Histogram filter_cpu_us;  // per filtered user: the worker's CPU time for the filter
  Histogram end_to_end_us;  // per user with a line: from its admission (download start) to its line
  size_t workers = 0;       // the most workers connected at once
};

// Which stages are blocked on the next one at a pump pass (see StageWaits).
struct StagesWaiting {
  bool downloads = false, images = false, results = false;
};

class RunMetrics {
 public:
  static constexpr Duration kBudgetFullWarning = std::chrono::seconds(10);
  static constexpr Duration kStormWindow = std::chrono::seconds(10);
  static constexpr uint64_t kStormRetries = 50;

  // `clock` and `observer` (where the warnings go) must outlive it. The run starts now.
  RunMetrics(const Clock& clock, Observer& observer);

  // Time since the run started.
  Duration elapsed() const { return clock_.Now() - started_; }

  // A user's download ended (ok) after `took`, waits and retries included: its end-to-end
  // time runs from when the download started.
  void DownloadEnded(size_t user, Duration took);
  // A worker filtered a user's image in `cpu_micros` of CPU time.
  void Filtered(uint64_t cpu_micros) { figures_.filter_cpu_us.Record(cpu_micros); }
  // A user's manifest line was written.
  void LineWritten(size_t user);
  // A pump pass: adds the time since the last pass to each wait that held then and notes which
  // hold now; `workers` connected now.
  void Sample(StagesWaiting now_waiting, size_t workers);
  // Health at a pump pass: whether the budget is full (or bodies are paused for it) now, with
  // `budget_limit` bytes for the message; the downloader's requests and retries so far.
  void Watch(bool budget_full, uint64_t budget_limit, uint64_t requests, uint64_t retries);

  const StageWaits& waits() const { return figures_.waits; }
  // The figures up to now (wall time included).
  RunFigures Figures() const;

 private:
  const Clock& clock_;
  Observer& observer_;
  const TimePoint started_;
  RunFigures figures_;
  // When each user's download started, from the download's end to its line: downstream users
  // only, so at most the pipeline's kMaxDownstream entries.
  std::unordered_map<size_t, TimePoint> download_started_;
  TimePoint last_sample_;
  StagesWaiting was_waiting_;
  std::optional<TimePoint> budget_full_since_;
  bool budget_warned_ = false;
  std::optional<TimePoint> storm_window_start_;
  uint64_t storm_requests_ = 0, storm_retries_ = 0;
};

}  // namespace pixelmill
