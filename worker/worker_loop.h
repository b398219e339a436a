// WorkerLoop: the worker process's side of the wire protocol (proto/README.md).
//
// Run() connects a DEALER socket to the coordinator, says Hello, and waits for Welcome (exit 1
// on Reject). Then it takes Jobs, up to `capacity` held at once (running + queued), hands them
// to the ComputeThread, sends each Result back as soon as it is done, and heartbeats every
// interval, busy or idle. Any message from the coordinator is a sign of life; silence for 3
// intervals (or no Welcome within 3 s) means the coordinator is lost: a local worker exits 1, a
// remote one drops its queued jobs (the coordinator requeues them), backs off 0.5 s doubling to
// 5 s, and says Hello again on a fresh socket, forever. Shutdown exits 0 at once, or with
// keep_running waits for the coordinator's next run the same way. Every received message is
// decoded as untrusted; malformed or out-of-place ones are counted and dropped.
//
// SIGTERM (stop_signal.h) is a warm shutdown: the queued jobs go back at once (Leave), the
// running ones are finished and answered within `grace`, then Leave{done} and exit 0. A second
// signal sends Leave{done} and exits 1 at once; the coordinator requeues what was held.
//
// Threads: the main thread constructs this and calls Run(); it owns the ZeroMQ context and both
// of its sockets (the DEALER and its end of the compute thread's PAIR) and does all I/O. The
// compute thread only runs filters.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "common/base/status.h"
#include "common/filters/filter.h"
#include "common/wire/curve_keys.h"
#include "common/wire/protocol.h"
#include "worker/compute_thread.h"

namespace pixelmill::worker {

struct Options {
  // Coordinator endpoint, "tcp://host:port" or "ipc://path". Required.
  std::string endpoint;
  // Jobs held at once, running + queued (1..64). The coordinator grants credit by it.
  uint32_t capacity = 2;
  // Spawned by a coordinator on this machine: die with it (PR_SET_PDEATHSIG) and exit 1 when it
  // goes silent instead of reconnecting.
  bool local = false;
  // Unique per process; empty means "<hostname>:<pid>:<random hex>".
  std::string worker_id;
  // Print libvips' warnings about damaged images (counted in each Result either way).
  bool debug = false;
  // Largest image frame accepted in a Job.
  size_t max_payload_bytes = size_t{256} << 20;
  // CurveZMQ (a tcp:// endpoint whose coordinator has --curve-secret): this worker's keys and
  // the coordinator's public key; unset: plain.
  std::optional<CurveKeyPair> curve;
  std::string server_key;
  // Stay up after a run's Shutdown and reconnect for the next run (a standing worker host).
  bool keep_running = false;
  // After SIGTERM, how long the jobs being run may take before they are abandoned.
  std::chrono::milliseconds grace{10'000};
};

class WorkerLoop {
 public:
  explicit WorkerLoop(Options options);
  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;
  // Waits for a running filter (see ComputeThread).
  ~WorkerLoop();

  // Serves the coordinator until told to stop; returns the process exit code: 0 after Shutdown,
  // 1 after Reject, a fatal error, or (local) a lost coordinator. On return the DEALER socket is
  // closed but a long filter may still be running: end the process with std::_Exit(code) rather
  // than waiting for it by destroying this.
  int Run();

 private:
  enum class State { kOffline, kHandshake, kWelcomed };
  using Clock = std::chrono::steady_clock;

  // Rate-limited stderr for problems caused by the peer: at most one line per second.
  class PeerLog {
   public:
    void Print(const std::string& line);

   private:
    Clock::time_point last_{};
    bool printed_ = false;
    uint64_t suppressed_ = 0;
  };

  int Serve();
  // One connection, from Hello to its end: an exit code, or nullopt to reconnect.
  std::optional<int> RunSession();
  void StartSession();
  std::optional<int> CoordinatorLost(Clock::time_point now);
  // A stop signal came (or the grace is over): the exit code once the worker may go.
  std::optional<int> CheckStop(Clock::time_point now);
  // With `done`, the jobs still held are named as abandoned (proto Leave).
  void SendLeave(const std::vector<uint64_t>& returned, bool done, const std::string& reason);
  // After Leave{done}: up to `limit` for the coordinator's Shutdown, which says the Leave
  // arrived (a socket closed at once, or a process ended, may drop what it had not sent).
  void AwaitGoodbye(std::chrono::milliseconds limit);
  std::optional<int> HandleShutdown(const proto::Shutdown& shutdown);
  // Receives and handles what the coordinator sent; an exit code ends the worker.
  std::optional<int> DrainCoordinator();
  std::optional<int> Handle(Message& message);
  std::optional<int> HandleWelcome(const proto::Welcome& welcome);
  void HandleJob(Message& message);
  // Sends finished jobs of this session on; drops those of earlier ones.
  void ForwardResults();
  void SendError(uint64_t job_id, const Status& error);
  void SendHeartbeat();
  // Between sessions: waits `delay` without a socket, dropping stale results meanwhile.
  void WaitOffline(std::chrono::milliseconds delay);
  void CloseSocket();
  void Ignore(const Message& message);

  Options options_;
  std::string host_;

  // Declaration order is destruction order in reverse: the compute thread goes first (its PAIR
  // socket closes), then the sockets, then the context, whose destructor waits for all of them.
  zmq::context_t context_;
  zmq::socket_t socket_;   // DEALER to the coordinator; a fresh one per session
  zmq::socket_t results_;  // our end of the compute thread's PAIR
  std::unique_ptr<ComputeThread> compute_;

  State state_ = State::kOffline;
  uint64_t session_ = 0;  // counts connections; tags jobs so stale results are dropped
  uint32_t held_ = 0;     // jobs of this session accepted and not yet answered
  std::unordered_set<uint64_t> holding_;  // ... their ids (told at a final Leave)
  std::chrono::milliseconds heartbeat_;
  std::chrono::milliseconds backoff_;
  Clock::time_point hello_sent_, last_heard_, next_heartbeat_;
  uint32_t failed_tries_ = 0;     // sessions in a row without a Welcome
  bool leaving_ = false;          // a stop signal came: no new job, leave when done
  Clock::time_point leave_by_{};  // ... at the latest (the grace)

  std::vector<zmq::message_t> frames_;
  std::string last_filter_;                      // the last job's filter spec
  std::optional<Result<FilterSpec>> last_spec_;  // ... parsed
  PeerLog peer_log_;
  uint64_t malformed_ = 0;
  uint64_t ignored_ = 0;
};

}  // namespace pixelmill::worker
