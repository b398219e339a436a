#include "coordinator/workers/worker_pool.h"

#include <algorithm>

namespace pixelmill {

WorkerInfo& WorkerPool::Add(WorkerInfo info) {
  const std::string identity = info.identity;
  if (workers_.count(identity) == 0) order_.push_back(identity);
  WorkerInfo& slot = workers_[identity] = std::move(info);
  slot.credits = slot.capacity;
  slot.jobs.clear();
  return slot;
}

WorkerInfo* WorkerPool::Find(const std::string& identity) {
  auto it = workers_.find(identity);
  return it == workers_.end() ? nullptr : &it->second;
}

WorkerInfo* WorkerPool::PickLeastLoaded(const std::string& avoid, bool alone) {
  WorkerInfo* best = nullptr;
  WorkerInfo* avoided = nullptr;
  for (const std::string& id : order_) {
    WorkerInfo& w = workers_.at(id);
    if (w.credits == 0 || w.leaving || w.alone_job != 0 || (alone && !w.jobs.empty())) continue;
    if (!avoid.empty() && id == avoid) {
      avoided = &w;
    } else if (best == nullptr || w.credits > best->credits) {
      best = &w;
    }
  }
  // The avoided worker only when no other is connected: a busy other one is worth the wait.
  return best != nullptr ? best : (order_.size() == 1 ? avoided : nullptr);
}

std::vector<std::string> WorkerPool::HoldingSince(TimePoint deadline) const {
  std::vector<std::string> out;
  for (const std::string& id : order_) {
    for (uint64_t job_id : workers_.at(id).jobs) {
      if (jobs_.at(job_id).sent_at < deadline) {
        out.push_back(id);
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> WorkerPool::SilentSince(TimePoint deadline) const {
  std::vector<std::string> silent;
  for (const std::string& id : order_) {
    if (workers_.at(id).last_heard < deadline) silent.push_back(id);
  }
  return silent;
}

std::optional<std::string> WorkerPool::FindLocal(uint32_t pid) const {
  if (pid == 0) return std::nullopt;
  for (const std::string& id : order_) {
    if (workers_.at(id).local_pid == pid) return id;
  }
  return std::nullopt;
}

void WorkerPool::Submit(size_t user, int64_t user_id, ImageBytes image,
                        std::string_view user_string_id) {
  JobRecord job;
  job.user = user;
  job.user_id = user_id;
  job.user_string_id = user_string_id;
  job.image = std::move(image);
  queue_.push_back(std::move(job));
}

std::optional<uint64_t> WorkerPool::AssignNext(WorkerInfo& worker, TimePoint now,
                                               ByteLease result_estimate) {
  if (queue_.empty() || worker.credits == 0) return std::nullopt;
  const uint64_t job_id = next_job_id_++;
  JobRecord job = std::move(queue_.front());
  queue_.pop_front();
  job.worker = worker.identity;
  job.sent_at = now;
  job.result_estimate = std::move(result_estimate);
  if (job.alone) worker.alone_job = job_id;
  jobs_.emplace(job_id, std::move(job));
  worker.jobs.insert(job_id);
  --worker.credits;
  return job_id;
}

std::optional<JobRecord> WorkerPool::Complete(const std::string& identity, uint64_t job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.worker != identity) {
    ++duplicates_;
    return std::nullopt;
  }
  JobRecord job = std::move(it->second);
  jobs_.erase(it);
  if (WorkerInfo* w = Find(identity)) {
    w->jobs.erase(job_id);
    if (w->alone_job == job_id) w->alone_job = 0;
    ++w->credits;
  }
  return job;
}

void WorkerPool::Unassign(uint64_t job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  JobRecord job = std::move(it->second);
  jobs_.erase(it);
  if (WorkerInfo* w = Find(job.worker)) {
    w->jobs.erase(job_id);
    if (w->alone_job == job_id) w->alone_job = 0;
    ++w->credits;
  }
  job.worker.clear();
  job.result_estimate.Reset();
  queue_.push_front(std::move(job));
}

bool WorkerPool::Return(const std::string& identity, uint64_t job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.worker != identity) return false;
  Unassign(job_id);
  return true;
}

std::vector<JobRecord> WorkerPool::Remove(const std::string& identity) {
  std::vector<JobRecord> given_up;
  auto it = workers_.find(identity);
  if (it == workers_.end()) return given_up;
  // Requeue in job-id order so retries keep the users' original order.
  std::vector<uint64_t> held(it->second.jobs.begin(), it->second.jobs.end());
  std::sort(held.begin(), held.end(), std::greater<>());
  for (uint64_t job_id : held) {
    auto job_it = jobs_.find(job_id);
    if (job_it == jobs_.end()) continue;
    JobRecord job = std::move(job_it->second);
    jobs_.erase(job_it);
    job.alone |= held.size() > 1;
    if (auto out = Retry(std::move(job), identity)) given_up.push_back(std::move(*out));
  }
  workers_.erase(it);
  order_.erase(std::find(order_.begin(), order_.end(), identity));
  return given_up;
}

std::optional<JobRecord> WorkerPool::Retry(JobRecord job, const std::string& avoid) {
  job.worker.clear();
  job.result_estimate.Reset();
  if (job.attempt >= max_attempts_) return job;
  ++job.attempt;
  ++requeued_;
  job.avoid = avoid;
  queue_.push_front(std::move(job));
  return std::nullopt;
}

std::vector<JobRecord> WorkerPool::DrainQueue() {
  std::vector<JobRecord> out(std::make_move_iterator(queue_.begin()),
                             std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

const JobRecord* WorkerPool::job(uint64_t job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

}  // namespace pixelmill
