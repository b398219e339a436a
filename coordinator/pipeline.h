// Pipeline: the coordinator's libuv loop and the stages on it. Every loaded user is downloaded,
// filtered by a worker process (unless --filter none) and saved, and ends as exactly one
// manifest line; downloads, filters and writes overlap.
// At most `concurrency` users download and at most `concurrency` more are being saved, which
// bounds memory by 2 x concurrency x max image bytes.
//
// Owns the loop and every stage; single-threaded (libuv's pool does the file I/O).
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/user_store.h"
#include "coordinator/dispatcher.h"
#include "coordinator/downloader.h"
#include "coordinator/options.h"
#include "coordinator/sink.h"
#include "coordinator/worker_supervisor.h"

namespace pixelmill {

struct PipelineResult {
  int exit_code = kExitFatal;
  bool started = false;  // false when the output could not even be opened
  size_t ok = 0, failed = 0;
  double wall_seconds = 0;
  DownloadStats downloads;
  DispatchStats dispatch;
  uint64_t worker_restarts = 0;
};

class Pipeline {
 public:
  Pipeline(const Options& options, UserStore& store);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline();

  // Runs every user to its manifest line, then closes everything. Call once.
  PipelineResult Run();

 private:
  void Pump();
  Status StartWorkers();
  void OnDownloaded(Download&& download);
  void OnFiltered(JobOutcome&& outcome);
  // How a user's download went, kept while its image is being filtered.
  struct Fetched {
    uint32_t attempts = 0;
    double ms = 0;
  };
  struct SaveInfo {
    Fetched download;
    uint32_t attempts = 0;  // dispatches, when filtered
    uint64_t cpu_micros = 0;
    bool filtered = false;
    std::string worker;
    uint32_t width = 0, height = 0;
  };
  // REQUIRES: bytes.format() is known (probed).
  void Save(size_t user, ImageBuffer bytes, SaveInfo info);
  void Fail(size_t user, const std::string& code, const std::string& message, uint32_t attempts);
  void Finish(size_t user, UserStatus status, OutputFormat format, std::string line);
  void OnLineWritten(UserStatus user_status, const Status& status);
  void MaybeShutDown();
  void ShutDown();
  void Interrupt(int signum);
  // Stops the run now with `why` as its fatal error, abandoning work in flight.
  void Abandon(const std::string& why);
  void HandleClosed();
  void CloseSignals();

  const Options& options_;
  UserStore& store_;
  uv_loop_t loop_{};
  Downloader downloader_;
  Sink sink_;
  std::unique_ptr<Dispatcher> dispatcher_;        // null with --filter none
  std::unique_ptr<WorkerSupervisor> supervisor_;  // null without local workers
  uv_signal_t sigint_{}, sigterm_{}, sighup_{};
  std::unordered_map<size_t, Fetched> fetched_;  // users being filtered
  size_t next_ = 0;                              // next user to start
  size_t busy_ = 0;  // users started whose manifest line is not written yet
  size_t ok_ = 0, failed_ = 0;
  size_t closing_ = 0;  // stages still closing
  bool stopping_ = false;
  bool shut_down_ = false;
  std::string fatal_;  // why the run stopped early, if it did
};

}  // namespace pixelmill
