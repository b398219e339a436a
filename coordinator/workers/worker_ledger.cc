#include "coordinator/workers/worker_ledger.h"

namespace pixelmill {

WorkerLedger::Row* WorkerLedger::Find(const std::string& worker) {
  auto it = index_.find(worker);
  return it == index_.end() ? nullptr : &rows_[it->second];
}

void WorkerLedger::Joined(const std::string& worker, const std::string& host,
                          const std::string& key, bool remote, TimePoint now) {
  Row* row = Find(worker);
  if (row == nullptr) {
    if (rows_.size() < kMaxRows) {
      rows_.emplace_back();
      WorkerFigures& f = rows_.back().figures;
      rows_.back().others = rows_.size() == kMaxRows;
      f.worker = rows_.back().others ? "(others)" : worker;
      if (!rows_.back().others) {
        f.host = host;
        f.key = key;
        f.remote = remote;
      }
    }
    index_.emplace(worker, rows_.size() - 1);
    row = &rows_.back();
  }
  ++row->figures.connections;
  if (!row->since && !row->others) row->since = now;
}

void WorkerLedger::Left(const std::string& worker, TimePoint now) {
  Row* row = Find(worker);
  if (row == nullptr || !row->since) return;
  row->figures.connected += now - *row->since;
  row->since.reset();
}

void WorkerLedger::Result(const std::string& worker, bool ok, uint64_t cpu_micros, uint64_t bytes,
                          Duration round_trip) {
  Row* row = Find(worker);
  if (row == nullptr) return;
  ++(ok ? row->figures.jobs_ok : row->figures.jobs_failed);
  row->figures.cpu_micros += cpu_micros;
  row->figures.result_bytes += bytes;
  row->figures.round_trips += round_trip;
}

std::vector<WorkerFigures> WorkerLedger::Rows(TimePoint now) const {
  std::vector<WorkerFigures> out;
  out.reserve(rows_.size());
  for (const Row& row : rows_) {
    out.push_back(row.figures);
    if (row.since) out.back().connected += now - *row.since;
  }
  return out;
}

}  // namespace pixelmill
