// WorkerPool: the dispatcher's bookkeeping, without sockets: which workers are connected, how
// much credit each has, which jobs each holds, and the jobs waiting for a worker. Policy only,
// so it is tested directly: least-loaded pick, requeue of a dead worker's jobs with attempt+1,
// failure after max attempts, duplicate results.
//
// Used by the Dispatcher on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/base/byte_budget.h"
#include "common/image/image_buffer.h"
#include "coordinator/events/clock.h"

namespace pixelmill {

// A job's image, shared by the queue and the frames sent (a retry sends it again).
using ImageBytes = std::shared_ptr<const ImageBuffer>;

struct WorkerInfo {
  std::string identity;  // ZeroMQ routing id
  std::string worker_id;
  std::string host;  // as its Hello states: for logs only
  uint32_t pid = 0;  // as its Hello states: for logs only, never acted on
  // The worker's process as the kernel reports it when it came through an ipc:// endpoint (the
  // local workers' one), else 0: the only pid the dispatcher acts on (kill, exit, supervisor).
  uint32_t local_pid = 0;
  // A remote worker's CURVE public key (Z85) as ZAP admitted it, "" for a local or plain one;
  // a key removed from --allow-workers takes the worker out of the pool.
  std::string key;
  uint32_t capacity = 0;
  uint32_t credits = 0;     // jobs it may still be sent
  TimePoint last_heard{};   // any message
  uint32_t bad_streak = 0;  // invalid results in a row
  bool leaving = false;     // it said Leave: no new job
  std::unordered_set<uint64_t> jobs;
  uint64_t alone_job = 0;  // the job it holds alone (JobRecord::alone), 0 if none
};

struct JobRecord {
  size_t user = 0;             // the user's index in the run's store
  int64_t user_id = 0;         // the user's id, as the input gave it (sent with the job)
  std::string user_string_id;  // or its string id
  uint32_t attempt = 1;
  ImageBytes image;
  std::string worker;  // identity of the worker holding it; empty while queued
  std::string avoid;   // a worker that failed it: another one is preferred for the retry
  // Its worker died holding other jobs too: which one killed it is unknown, so each runs alone
  // on a worker from then on, and only the one that kills its worker again is blamed again.
  bool alone = false;
  TimePoint sent_at{};  // when it was assigned
  // Room reserved in the byte budget for its result while a worker holds it (see Dispatcher);
  // given back when the job is requeued, fails or completes.
  ByteLease result_estimate;
};

class WorkerPool {
 public:
  explicit WorkerPool(uint32_t max_attempts) : max_attempts_(max_attempts) {}

  // Registers a worker (after its Hello). A worker already known under `identity` is replaced.
  WorkerInfo& Add(WorkerInfo info);
  WorkerInfo* Find(const std::string& identity);
  // The worker with the most credit (ties: the first registered), or nullptr if none has any.
  // `avoid` (a worker that failed the job) is picked only when it is the only worker connected.
  // A worker holding a job alone gets no other; an `alone` job goes only to an idle worker.
  WorkerInfo* PickLeastLoaded(const std::string& avoid = {}, bool alone = false);
  // The next queued job (to choose its worker), or nullptr.
  const JobRecord* NextQueued() const { return queue_.empty() ? nullptr : &queue_.front(); }
  // Identities of workers holding a job assigned before `deadline`.
  std::vector<std::string> HoldingSince(TimePoint deadline) const;
  // Identities of workers not heard from since `deadline`.
  std::vector<std::string> SilentSince(TimePoint deadline) const;
  // Identity of the worker whose local_pid is `pid` (never 0), if any.
  std::optional<std::string> FindLocal(uint32_t pid) const;

  // Queues a new job for a user (attempt 1).
  void Submit(size_t user, int64_t user_id, ImageBytes image, std::string_view user_string_id = {});
  // Takes the next queued job and assigns it to `worker` under a fresh job id at `now`;
  // the job holds `result_estimate` while the worker holds it.
  std::optional<uint64_t> AssignNext(WorkerInfo& worker, TimePoint now = {},
                                     ByteLease result_estimate = {});
  // A result came for job_id from `identity`: returns the job if it was in flight there (and
  // gives the worker its credit back), nullopt for a late or foreign duplicate.
  std::optional<JobRecord> Complete(const std::string& identity, uint64_t job_id);
  // Puts a job that could not be sent back at the head of the queue, same attempt (its result
  // estimate is given back).
  void Unassign(uint64_t job_id);
  // A leaving worker gave job_id back unstarted: queued again at the head, same attempt. False
  // (nothing done) when `identity` does not hold it.
  bool Return(const std::string& identity, uint64_t job_id);

  // A job's attempt failed (e.g. its result was not a valid image): gives its result estimate
  // back and queues it again with attempt + 1, preferring another worker than `avoid`, or
  // returns it when it has had max attempts.
  std::optional<JobRecord> Retry(JobRecord job, const std::string& avoid);
  // Removes a dead worker. Its jobs go back to the queue with attempt + 1 (to run alone when it
  // held several), except those that reached max attempts, which are returned as given up.
  std::vector<JobRecord> Remove(const std::string& identity);
  // Empties the queue, returning what was waiting.
  std::vector<JobRecord> DrainQueue();

  const JobRecord* job(uint64_t job_id) const;
  size_t workers() const { return workers_.size(); }
  size_t queued() const { return queue_.size(); }
  size_t in_flight() const { return jobs_.size(); }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t requeued() const { return requeued_; }
  const std::vector<std::string>& order() const { return order_; }

 private:
  const uint32_t max_attempts_;
  std::unordered_map<std::string, WorkerInfo> workers_;
  std::vector<std::string> order_;                // registration order, for stable ties
  std::unordered_map<uint64_t, JobRecord> jobs_;  // in flight
  std::deque<JobRecord> queue_;
  uint64_t next_job_id_ = 1;
  uint64_t duplicates_ = 0;
  uint64_t requeued_ = 0;
};

}  // namespace pixelmill
