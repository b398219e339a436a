// Dispatcher: sends filter jobs to worker processes and gathers their results, over one
// ZeroMQ ROUTER socket driven by the coordinator's libuv loop. The socket's ZMQ_FD is watched
// with a uv_poll_t; it is edge-triggered, so after every wake-up and after every send the
// dispatcher re-reads ZMQ_EVENTS and drains while ZMQ_POLLIN is set.
//
// Flow control is by credit (Hello grants capacity, each Result returns one), never by
// high-water marks; ZMQ_ROUTER_MANDATORY makes an unroutable send an error instead of a silent
// drop. Liveness: a heartbeat to every worker each interval; a worker silent for 3 intervals,
// or whose process exited, is dead and only the jobs it held are requeued (attempt + 1) or,
// after max attempts, failed with code kWorkerDied. A worker holding a job past the job
// timeout is stopped the same way (code kJobTimeout); a local worker declared dead or stopped
// is handed to `on_local_lost` to be killed and replaced. Every result is checked (ProbeImage)
// before it is accepted: an invalid one fails that attempt (kBadResult) and the job is retried
// on another worker; a worker with 3 invalid results in a row is stopped. With no worker connected
// and none that can start locally, the dispatcher says so every 10 s and, after the remote wait,
// fails the waiting jobs with kNoWorkers. Malformed or unexpected messages are counted and
// dropped; a peer that has not joined is also told why (Reject), so a worker whose Hello cannot
// be read exits instead of waiting for a Welcome. Late results count as duplicates. A worker is
// local (its process the supervisor's) only when it came through an ipc:// endpoint: the pid
// acted on is the kernel's, never the one a Hello states; every string a peer sends is escaped
// (PeerText) before it is logged or kept.
//
// Memory: with a ByteBudget, each job sent reserves room for its result (Take: never blocks;
// the estimate is the input image's size, as filters mostly keep or shrink an image) held with
// the job record; when the result arrives, its ImageBuffer (the received frame) holds a lease
// of its real size instead. A job requeued, failed or abandoned gives its estimate back.
//
// Time: every deadline above reads DispatchOptions::clock (clock.h); the heartbeat timer only
// says when to look (Heartbeat()), so tests on a VirtualClock run the checks themselves.
//
// Owned and used by the loop thread only. Close() before destruction.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "common/base/byte_budget.h"
#include "common/base/status.h"
#include "common/filters/filter.h"
#include "common/image/image_format.h"
#include "common/wire/curve_keys.h"
#include "common/wire/protocol.h"
#include "coordinator/events/clock.h"
#include "coordinator/events/close_group.h"
#include "coordinator/events/run_observer.h"
#include "coordinator/workers/worker_ledger.h"
#include "coordinator/workers/worker_pool.h"
#include "coordinator/workers/zap_handler.h"

namespace pixelmill {

struct DispatchOptions {
  FilterSpec filter;                   // sent with every job; workers must have its steps
  FilterContext output;                // format, quality, metadata policy, max pixels
  uint32_t max_attempts = 3;           // dispatches of one job before it fails
  uint32_t heartbeat_ms = 1000;        // heartbeat interval; 3 missed = dead
  std::vector<std::string> endpoints;  // where to bind, e.g. ipc:///tmp/x/w.sock, tcp://...
  // CurveZMQ on the tcp:// endpoints (unset: plain TCP): the coordinator's keys, and the folder
  // of the admitted workers' public certificates (a ZapHandler answers for them).
  std::optional<CurveKeyPair> curve;
  std::string allow_workers;
  size_t max_payload_bytes = 256u << 20;
  // Local workers being started: until this many have joined (for at most fill_grace_ms), a
  // worker already busy gets no second job, so the first jobs spread over the whole pool.
  size_t expected_workers = 0;
  uint64_t fill_grace_ms = 1000;
  // Called with the pid of every worker that joins through an ipc:// endpoint (the pid the
  // kernel reports for the connection, never the one a Hello states), for the supervisor.
  std::function<void(uint32_t pid)> on_local_join;
  // Called with that pid when such a worker was declared dead or stopped while its process may
  // still run (frozen, hung): the supervisor kills it if it is one of its own. A TCP peer never
  // leads to this call, whatever host and pid its Hello names.
  std::function<void(uint32_t pid)> on_local_lost;
  uint64_t job_timeout_ms = 300'000;  // a job held longer is taken back (attempt + 1)
  uint64_t remote_wait_ms = 60'000;   // see NoLocalWorkers()
  Observer* observer = nullptr;       // where events go (nullptr: stderr)
  // What time it is for heartbeats, the job timeout, the fill grace and the remote wait
  // (nullptr: RealClock()). Must outlive the dispatcher.
  const Clock* clock = nullptr;
};

struct JobOutcome {
  size_t user = 0;
  Status error;       // ok, or why the job failed (a manifest code)
  ImageBuffer image;  // the filtered image when ok, checked by ProbeImage (format set)
  uint32_t width = 0, height = 0;
  uint32_t attempts = 0;
  uint64_t cpu_micros = 0;
  std::string worker;  // worker_id of the worker that ran it
};

// The failure a worker reported (its Result's error code and message, untrusted text) as the
// manifest records it: its code when that is a manifest code, else kFilter (no code, or one
// from another build) with the worker's code leading the message.
Status WorkerFailure(const std::string& code, const std::string& message);

struct DispatchStats {
  uint64_t jobs_sent = 0, results = 0, duplicates = 0, malformed = 0, requeued = 0;
  uint64_t workers_joined = 0, workers_lost = 0, workers_left = 0, rejected = 0;
  uint64_t bad_results = 0, timed_out = 0;
  uint64_t cpu_micros = 0;  // worker CPU time of the results accepted
  // libvips warnings about the images of the results accepted (damaged but readable).
  uint64_t image_warnings = 0;
  // Per worker (Dispatcher::figures_by_worker(), set at the end of a run).
  std::vector<WorkerFigures> by_worker;
};

class Dispatcher {
 public:
  using DoneFn = std::function<void(JobOutcome&&)>;

  // `budget` (nullptr = unlimited) counts result estimates and results; it must outlive the
  // dispatcher and every JobOutcome image.
  Dispatcher(uv_loop_t& loop, DispatchOptions options, DoneFn on_done,
             ByteBudget* budget = nullptr);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;
  ~Dispatcher();

  // Creates the socket, binds every endpoint, starts watching it and the heartbeat timer.
  Status Init();
  // Queues the image of a user (`user`: its index in the store, which JobOutcome names;
  // `user_id` or `user_string_id`: its id, which the Job carries); it goes out as soon as a
  // worker has credit.
  void Submit(size_t user, int64_t user_id, ImageBuffer image,
              std::string_view user_string_id = {});
  // The supervisor saw a local worker process end: the worker of that local_pid is dead at once.
  void WorkerExited(uint32_t pid, const std::string& how);
  // Fails every queued job with kNoWorkers and `message` (no worker can ever come).
  void FailQueued(const std::string& message);
  // No local worker can come (`why`: none configured, or every slot gave up). Without a remote
  // endpoint the waiting jobs fail now with kNoWorkers; with one, the dispatcher waits up to
  // remote_wait_ms while no worker is connected, saying so, then gives up the same way.
  void NoLocalWorkers(const std::string& why);
  // Why no worker will ever come (the dispatcher gave up), or "": new jobs would only wait.
  const std::string& gave_up() const { return gave_up_; }
  // Sends Shutdown to every worker, then closes; `on_closed` once the loop released it all.
  void Close(std::function<void()> on_closed);

  size_t workers() const { return pool_.workers(); }
  // The endpoints actually bound (a tcp port given as * is resolved).
  const std::vector<std::string>& bound() const { return bound_; }
  size_t pending() const { return pool_.queued() + pool_.in_flight(); }
  // Jobs waiting for a worker with credit.
  size_t queued() const { return pool_.queued(); }
  // The counters (by_worker left empty: see figures_by_worker()).
  DispatchStats stats() const;
  // What each worker did so far (WorkerLedger).
  std::vector<WorkerFigures> figures_by_worker() const { return ledger_.Rows(clock_.Now()); }

  // The periodic checks, at the clock's time: workers silent for 3 intervals are dead, workers
  // holding a job past the job timeout are stopped, the remote wait is counted, jobs held back
  // by the fill grace go out; then every worker gets a heartbeat. The heartbeat timer calls it
  // each interval; a test on a VirtualClock calls it after advancing the clock.
  // REQUIRES: Init() succeeded.
  void Heartbeat();

 private:
  static void OnReadable(uv_poll_t* poll, int status, int events);
  static void OnHeartbeat(uv_timer_t* timer);

  void Drain();
  void Handle(std::vector<zmq::message_t>& frames);
  // `local_pid`: the sender's process when it came through an ipc:// endpoint, else 0.
  void OnHello(const std::string& identity, const proto::Hello& hello, uint32_t local_pid,
               const std::string& key);
  // Binds one endpoint: a tcp:// one with CurveZMQ when options_.curve is set (the ZAP handler
  // started first), any other in the clear.
  void Bind(const std::string& endpoint);
  bool Curve(const std::string& endpoint) const;  // whether Bind uses CurveZMQ for it
  // Reports ZAP refusals, and takes workers whose key left --allow-workers out of the pool.
  void CheckKeys();
  void OnResult(const std::string& identity, Message& message);
  // A worker's warm shutdown: its returned jobs are queued again (same attempt), it gets no
  // new job, and with `done` it is gone (at info, not as a lost worker).
  void OnLeave(const std::string& identity, const proto::Leave& leave);
  void Dispatch();
  // False when the worker cannot be reached (it disconnected).
  bool Send(const std::string& identity, const proto::Envelope& envelope,
            zmq::message_t* payload = nullptr);
  void Unreachable(const std::string& identity);
  void WorkerDead(const std::string& identity, const std::string& why,
                  Code code = Code::kWorkerDied);
  // Takes a worker out of the pool: what it held is requeued (attempt + 1) or given up with
  // `code`. `left`: it said so (Leave), logged at info; else lost, a warning.
  void RemoveWorker(const std::string& identity, const std::string& why, Code code, bool left);
  void GiveUp(JobRecord& job, Code code, const std::string& why);
  void CheckDeadlines(TimePoint now);
  void StopWorker(const std::string& identity, const std::string& why, Code code);
  void CheckRemoteWait(TimePoint now);
  void Refuse(const std::string& identity, JobRecord& job, const std::string& why);
  // Answers a peer that has not joined with Reject{why}.
  void RejectPeer(const std::string& identity, const std::string& why);
  void Malformed(const std::string& why);

  uv_loop_t& loop_;
  const DispatchOptions options_;
  DoneFn on_done_;
  ByteBudget* const budget_;
  Observer* const observer_;
  const Clock& clock_;
  std::unique_ptr<zmq::context_t> context_;  // made by Init()
  std::unique_ptr<ZapHandler> zap_;          // with options_.curve; stopped before context_
  zmq::socket_t socket_;
  uv_poll_t poll_{};
  uv_timer_t heartbeat_{};
  WorkerPool pool_;
  WorkerLedger ledger_;
  DispatchStats stats_;
  std::vector<zmq::message_t> frames_;
  proto::Envelope job_envelope_;  // reused for every Job
  std::vector<std::string> bound_;
  bool handles_open_ = false;  // poll_ and heartbeat_ (Init() ran)
  CloseGroup closing_handles_;
  bool draining_ = false;
  bool closing_ = false;
  std::unordered_set<std::string> rejected_peers_;  // identities answered by RejectPeer
  std::optional<TimePoint> last_malformed_log_, last_bad_result_log_;
  uint64_t late_results_ = 0;
  std::string local_gone_;  // why no local worker can come, once none can
  std::string gave_up_;     // why no worker will ever come
  // Since when no worker is connected while only remote ones can come, and the last time that
  // was said.
  std::optional<TimePoint> waiting_since_, last_wait_log_;
  TimePoint started_{};  // Init()
};

}  // namespace pixelmill
