// Pipeline: the coordinator's libuv loop and the stages on it. Every loaded user flows
//
//   download (Downloader, curl multi on the loop)
//     -> dispatch (Dispatcher: a Job frame to a worker with credit; skipped with --filter none)
//     -> filter (a worker process: decode, filter, encode with libvips)
//     -> gather (the Result frame back on the loop)
//     -> commit (Sink: the image complete under its final name, then its manifest line)
//
// and ends as exactly one manifest line. Stages overlap: downloads go on while earlier images
// are filtered and written.
//
// Callbacks record, one place pumps: a stage's callback (a download finished, a result
// arrived, a commit ended, a signal came) only appends to an event queue; once per loop
// iteration Pump() (a uv_check_t, after the poll phase; an idle handle keeps the poll from
// blocking while events wait) handles those events and then starts
// downloads, dispatches, commits and shuts down, in the order written in Pump(). No stage calls
// back into the stage that called it on the same stack.
//
// Memory: one byte budget (--max-memory) bounds the image bytes the coordinator holds: bodies
// being downloaded, images waiting for a worker, jobs in flight (with room reserved for their
// results) and results not yet written. Every ImageBuffer holds a lease on it from its first
// byte to its release; when it is full no download starts and bodies pause (never dropped).
// One image larger than the whole budget still runs alone. Apart from that, memory is the
// compact store (about 70 bytes a user) and bookkeeping for at most kMaxDownstream users
// between download and manifest line: flat in the number of users.
//
// Stops: the first stop request (main turns SIGINT/SIGTERM/SIGHUP into one) starts no new download
// and lets work in flight finish for up to --grace, then stops; a second stops at once. Either way
// every finished line is kept and the run can be resumed. An exception at any callback entry
// (Guarded) stops the run the same way with a fatal error.
//
// Lifecycle: running, draining (after a first stop request), stopping, closing: one Phase that
// only moves forward (Enter()). Figures and health warnings: RunMetrics, fed from the pump.
// Time: one Clock (clock.h) for every stage: the downloader, the dispatcher and the metrics.
//
// Owns the loop and every stage; single-threaded (libuv's pool does the file I/O).
#pragma once

#include <uv.h>

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/base/byte_budget.h"
#include "coordinator/download/downloader.h"
#include "coordinator/engine/dedupe.h"
#include "coordinator/engine/line_counts.h"
#include "coordinator/engine/options.h"
#include "coordinator/engine/run_metrics.h"
#include "coordinator/engine/user_result_feed.h"
#include "coordinator/events/callback_guard.h"
#include "coordinator/events/clock.h"
#include "coordinator/events/close_group.h"
#include "coordinator/events/run_observer.h"
#include "coordinator/events/stop_request.h"
#include "coordinator/input/user_store.h"
#include "coordinator/output/manifest.h"
#include "coordinator/output/sink.h"
#include "coordinator/workers/dispatcher.h"
#include "coordinator/workers/worker_supervisor.h"

namespace pixelmill {

// The lines this run wrote (ok, failed, failed_by_code) are its LineCounts; its wall time, stage
// waits, latencies and most workers its RunFigures.
struct PipelineResult : LineCounts, RunFigures {
  int exit_code = kExitFatal;
  bool output_opened = false;  // false when the output could not even be opened
  bool interrupted = false;    // a signal stopped the run; it can be resumed
  size_t left = 0;             // users with no line from this run (interrupted or fatal)
  DownloadStats downloads;
  DispatchStats dispatch;
  uint64_t worker_restarts = 0;
  uint64_t manifest_syncs = 0;
  uint64_t budget_limit = 0, budget_peak = 0;  // bytes
  uint64_t peak_rss_bytes = 0;  // the coordinator's own peak RSS, set after the run by its caller
  DedupeStats dedupe;
};

class Pipeline {
 public:
  // `observer` hears every event and progress sample; `stop` (may be null) is how the caller
  // asks the run to stop (signals, another thread); `clock` times every stage. All must outlive
  // Run().
  Pipeline(const Options& options, UserStore& store, Observer& observer,
           StopRequest* stop = nullptr, const Clock& clock = RealClock());
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline();

  // Runs every pending user to its manifest line, then closes everything. Call once.
  PipelineResult Run();

 private:
  // How a user's download went, kept while its image is being filtered.
  struct Fetched {
    uint32_t attempts = 0;
    Duration took{};
  };
  // The run's lifecycle; it only moves forward, through Enter().
  enum class Phase {
    kRunning,   // users start, flow through the stages and end in lines
    kDraining,  // a first stop request: nothing new starts; work in flight finishes (--grace)
    kStopping,  // nothing more starts or is committed; ShutDown() comes next
    kClosing,   // ShutDown() ran: every stage is closing
  };
  // How a user's line came about with --dedupe.
  enum class Follower : uint8_t {
    kNo,       // processed itself
    kUrl,      // its URL's leader's result (not downloaded)
    kContent,  // downloaded; the result of the leader of the same bytes (not filtered)
  };
  // A commit or a failed line that ended (recorded by the sink's callback).
  struct Written {
    size_t user = 0;
    UserStatus status = UserStatus::kPending;
    CommitResult result = CommitResult::kCommitted;
    Status error;
    uint32_t attempts = 0;
    Code code = Code::kOk;  // a failed line's error code
    Status failure;         // a failed line's error (its followers get the same)
    Follower follower = Follower::kNo;
    std::string line;  // the committed line, kept only for feed_
  };

  // Moves the run to `next` if it is not there or past it yet; false if it was.
  bool Enter(Phase next);
  void Pump();
  // Records an event for the pump.
  template <typename Queue, typename Event>
  void Record(Queue& queue, Event&& event) {
    queue.push_back(std::forward<Event>(event));
    Wake();
  }
  void Wake();
  void CloseLoopHandles();
  bool HandleEvents();
  void StartDownloads();
  void Sample();
  Status StartWorkers();
  void HandleDownload(Download& download);
  void HandleFiltered(JobOutcome& outcome);
  void HandleWritten(Written& written);
  // REQUIRES: bytes.format() is known (probed). Writes the image, then `info`'s line.
  void Commit(size_t user, ImageBuffer bytes, ManifestRecord info);
  // `leader`: the user whose failure this is when `user` is its follower (--dedupe).
  void Fail(size_t user, const Status& error, uint32_t attempts,
            std::optional<size_t> leader = std::nullopt);
  // Starts `user`'s download, or fails it when it is refused.
  void StartDownload(size_t user);
  // --dedupe: `user` takes `leader`'s result: linked or failed now if it has one, else waits
  // for it. False when it cannot (a leader that failed in an earlier run): `user` goes alone.
  bool Follow(size_t user, size_t leader);
  void CommitFollower(size_t user, size_t leader);
  // `user`'s line is written: its waiting followers take its result.
  void ResolveFollowers(size_t user);
  // What a follower did itself: its download if it had one (content), for its line.
  ManifestRecord FollowerRecord(size_t user, Follower& kind);
  void HandleStop(int signum);
  ProgressSample Snapshot() const;
  void WatchForTrouble();
  // Stops the run now with `why` as its fatal error, abandoning work in flight.
  void Abandon(const std::string& why);
  void ShutDown();
  bool InFlight() const;

  const Options& options_;
  UserStore& store_;
  Observer& observer_;
  UserResultFeed feed_;
  StopRequest* stop_;
  const Clock& clock_;
  uv_loop_t loop_{};
  FatalHandler on_fatal_;
  ByteBudget budget_;  // outlives every stage and image below
  Downloader downloader_;
  Sink sink_;
  Dedupe dedupe_;
  DedupeStats dedupe_stats_;
  std::unique_ptr<Dispatcher> dispatcher_;        // null with --filter none
  std::unique_ptr<WorkerSupervisor> supervisor_;  // null without local workers
  uv_check_t pump_{};
  uv_idle_t wake_{};  // active while events wait for the pump
  uv_timer_t grace_{};
  uv_timer_t progress_{};     // a ProgressSample sample for the observer every 100 ms
  uv_timer_t budget_poll_{};  // while downloads are paused: a lease released on a ZeroMQ
                              // thread does not wake the loop by itself
  CloseGroup closing_;

  // Events recorded by callbacks, handled by Pump().
  std::deque<Download> downloaded_;
  std::deque<JobOutcome> filtered_;
  std::deque<Written> written_;
  int stops_handled_ = 0;
  std::string fatal_event_;  // an exception caught at a callback entry
  bool grace_over_ = false;  // recorded by the grace timer

  // Users between their download and their manifest line, at most: bounds the bookkeeping
  // (fetched_, job records, the sink's waiting files: about 1 KB a user, outside the byte
  // budget) when images are tiny and the byte budget alone would admit millions. 65536 let a
  // slow disk queue ~60 MiB of it with 1 KB images; 4096 still keeps 32 rounds of the sink's
  // writers and 2,048 workers' credits fed.
  static constexpr size_t kMaxDownstream = 4096;
  std::unordered_map<size_t, Fetched> fetched_;  // users being filtered
  size_t next_ = 0;                              // next user to start
  size_t busy_ = 0;  // users started whose manifest line is not written yet
  LineCounts lines_;
  Phase phase_ = Phase::kRunning;
  bool pumping_ = false;  // inside Pump(): a nested call returns at once
  bool stop_requested_ = false;
  int stop_signal_ = 0;                // the signal that asked the first stop (0: not a signal)
  size_t skipped_ = 0;                 // users done before this run (not pending at its start)
  std::string fatal_;                  // why the run stopped early, if it did
  std::optional<RunMetrics> metrics_;  // made when Run() starts the clock
};

}  // namespace pixelmill
