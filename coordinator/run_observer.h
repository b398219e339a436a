// RunObserver: the one way a run speaks. The pipeline and its stages write nothing to stderr,
// install no signal handler and read no flag; they tell an observer what happens -- notable
// events (a worker joined or was lost, a retry storm, the budget full for long, a fatal error)
// and, ten times a second, a progress sample -- and the caller decides where it goes: main()
// plugs in the terminal (progress line, logs) and the --progress-file writer, a service its
// own metrics.
//
// Called on the run's loop thread only; implementations must not block for long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pixelmill {

enum class EventLevel { kDebug, kInfo, kWarning, kError };

// A snapshot of a running pipeline.
struct Progress {
  double elapsed_s = 0;
  size_t total = 0;                // users in the input
  size_t skipped = 0;              // done by an earlier run (--resume)
  size_t ok = 0, failed = 0;       // lines written by this run
  size_t downloads_in_flight = 0;  // on the wire
  size_t downloads_waiting = 0;    // accepted, waiting for their host, a retry or memory
  size_t images_waiting = 0;       // downloaded, waiting for a worker with credit
  size_t jobs_in_flight = 0;       // held by workers
  size_t workers = 0;              // connected
  size_t writes_pending = 0;       // images and lines on their way to disk
  uint64_t budget_used = 0, budget_limit = 0;  // image bytes held, --max-memory
  uint64_t bytes_downloaded = 0;
  // Seconds each stage has spent blocked on the next so far.
  double downloads_waiting_for_memory_s = 0, images_waiting_for_workers_s = 0,
         results_waiting_for_disk_s = 0;
  double filter_cpu_s = 0;  // worker CPU time of the filters so far
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // A notable event, one line of text (never one per user at kInfo and above).
  virtual void OnEvent(EventLevel level, const std::string& message) = 0;
  // The pipeline's state, about every 100 ms while it runs, and once at its end.
  virtual void OnProgress(const Progress& progress) = 0;
  // The run's end: the summary (a few lines, the last one "done: ..."), shown even when
  // quiet.
  virtual void OnSummary(const std::string& text) = 0;
};

// printf-style OnEvent: `format` without the trailing newline.
void Emit(RunObserver& observer, EventLevel level, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// Writes events to stderr as "pixelmill: <message>" and ignores progress: the default for
// stages and tests that are given no observer.
RunObserver& StderrObserver();

}  // namespace pixelmill
