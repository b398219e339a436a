// Pipeline: the coordinator's libuv loop and the stages on it. Every loaded user is downloaded
// and saved (--filter none) and ends as exactly one manifest line; downloads overlap with writes.
// At most `concurrency` users download and at most `concurrency` more are being saved, which
// bounds memory by 2 x concurrency x max image bytes.
//
// Owns the loop and every stage; single-threaded (libuv's pool does the file I/O).
#pragma once

#include <uv.h>

#include <cstddef>
#include <string>

#include "common/user_store.h"
#include "coordinator/downloader.h"
#include "coordinator/options.h"
#include "coordinator/sink.h"

namespace pixelmill {

struct PipelineResult {
  int exit_code = kExitFatal;
  size_t ok = 0, failed = 0;
  double wall_seconds = 0;
  DownloadStats downloads;
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
  void OnDownloaded(Download&& download);
  void Save(size_t user, Download&& download, OutputFormat format);
  void Fail(size_t user, const std::string& code, const std::string& message, uint32_t attempts);
  void Finish(size_t user, UserStatus status, OutputFormat format, std::string line);
  void OnLineWritten(const Status& status);
  void MaybeShutDown();
  void ShutDown();
  void Interrupt(int signum);
  void HandleClosed();

  const Options& options_;
  UserStore& store_;
  uv_loop_t loop_{};
  Downloader downloader_;
  Sink sink_;
  uv_signal_t sigint_{}, sigterm_{};
  size_t next_ = 0;  // next user to start
  size_t busy_ = 0;  // users started whose manifest line is not written yet
  size_t ok_ = 0, failed_ = 0;
  size_t closing_ = 0;  // stages still closing
  bool stopping_ = false;
  bool shut_down_ = false;
  std::string fatal_;  // why the run stopped early, if it did
};

}  // namespace pixelmill
