// WorkerLedger: what each worker did in a run, for the report's per-worker figures: its name,
// host and key fingerprint (a remote worker's identity), jobs done and failed, the filter CPU it
// reported, the bytes it sent back, its jobs' round trips (sent to result: network, queueing and
// filter together) and how long it was connected. A worker is known by its worker id; one that
// leaves and joins again adds to its row. At most kMaxRows rows (a run whose local workers keep
// being replaced); later workers share a last row named "(others)", without connected time.
//
// Owned and used by the dispatcher's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "coordinator/events/clock.h"

namespace pixelmill {

struct WorkerFigures {
  std::string worker;   // worker id as the dispatcher names it (escaped; " key:..." for CURVE)
  std::string host;     // as its Hello states (escaped)
  std::string key;      // CURVE key fingerprint (KeyFingerprint), "" for a local or plain worker
  bool remote = false;  // came through a tcp:// endpoint
  uint64_t jobs_ok = 0, jobs_failed = 0;
  uint64_t cpu_micros = 0;    // filter CPU time its results reported
  uint64_t result_bytes = 0;  // image bytes it sent back
  Duration round_trips{};     // summed over its results: sent to result
  Duration connected{};       // summed over its connections (up to now for a connected one)
  uint32_t connections = 0;
};

class WorkerLedger {
 public:
  static constexpr size_t kMaxRows = 1024;

  void Joined(const std::string& worker, const std::string& host, const std::string& key,
              bool remote, TimePoint now);
  void Left(const std::string& worker, TimePoint now);
  void Result(const std::string& worker, bool ok, uint64_t cpu_micros, uint64_t bytes,
              Duration round_trip);
  // Every row, the connected workers' time counted up to `now`.
  std::vector<WorkerFigures> Rows(TimePoint now) const;

 private:
  struct Row {
    WorkerFigures figures;
    std::optional<TimePoint> since;  // connected now, since then
    bool others = false;             // the shared last row
  };
  Row* Find(const std::string& worker);

  std::vector<Row> rows_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace pixelmill
