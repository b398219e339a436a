#include "coordinator/engine/run_metrics.h"

#include <algorithm>

#include "coordinator/events/run_observer.h"

namespace pixelmill {

RunMetrics::RunMetrics(const Clock& clock, Observer& observer)
    : clock_(clock), observer_(observer), started_(clock.Now()), last_sample_(started_) {}

void RunMetrics::DownloadEnded(size_t user, Duration took) {
  download_started_[user] = clock_.Now() - took;
}

void RunMetrics::LineWritten(size_t user) {
  auto it = download_started_.find(user);
  if (it == download_started_.end()) return;
  const auto took =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - it->second);
  figures_.end_to_end_us.Record(static_cast<uint64_t>(took.count()));
  download_started_.erase(it);
}

void RunMetrics::Sample(StagesWaiting now_waiting, size_t workers) {
  const TimePoint now = clock_.Now();
  const double seconds = Seconds(now - last_sample_);
  last_sample_ = now;
  StageWaits& w = figures_.waits;
  if (was_waiting_.downloads) w.downloads_waiting_s += seconds;
  if (was_waiting_.images) w.images_waiting_s += seconds;
  if (was_waiting_.results) w.results_waiting_s += seconds;
  was_waiting_ = now_waiting;
  figures_.workers = std::max(figures_.workers, workers);
}

void RunMetrics::Watch(bool budget_full, uint64_t budget_limit, uint64_t requests,
                       uint64_t retries) {
  const TimePoint now = clock_.Now();
  if (budget_full) {
    if (!budget_full_since_) budget_full_since_ = now;
    if (!budget_warned_ && now - *budget_full_since_ >= kBudgetFullWarning) {
      budget_warned_ = true;
      Emit(observer_, LogLevel::kWarning,
           "the memory budget (--max-memory %llu MiB) has been full for 10 s: downloads wait "
           "for images to be filtered and written; more workers or a larger budget would help",
           static_cast<unsigned long long>(budget_limit >> 20));
    }
  } else {
    budget_full_since_.reset();
    budget_warned_ = false;
  }
  if (storm_window_start_ && now - *storm_window_start_ < kStormWindow) return;
  const uint64_t window_requests = requests - storm_requests_;
  const uint64_t window_retries = retries - storm_retries_;
  if (storm_window_start_ && window_retries >= kStormRetries &&
      window_retries * 5 >= window_requests) {
    Emit(observer_, LogLevel::kWarning,
         "retry storm: %llu of the last %llu requests were retries (servers failing or slow; "
         "see the manifest's error codes)",
         static_cast<unsigned long long>(window_retries),
         static_cast<unsigned long long>(window_requests));
  }
  storm_window_start_ = now;
  storm_requests_ = requests;
  storm_retries_ = retries;
}

RunFigures RunMetrics::Figures() const {
  RunFigures f = figures_;
  f.wall_seconds = Seconds(elapsed());
  return f;
}

}  // namespace pixelmill
