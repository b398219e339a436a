// ComputeThread: the worker's one filter thread, so a worker process keeps one core busy with
// filters while its main thread (WorkerLoop) stays free for the socket and heartbeats.
//
// The main thread hands jobs over with Submit() (a mutex + condition variable queue). The
// compute thread runs them one at a time, in order, measures the thread's CPU time, and hands
// each finished job back as one message on an inproc PAIR socket that the main thread polls
// beside its DEALER socket (ReceiveFinished reads it):
//   [session, job id: 8 bytes each, host order][Envelope{result}][payload, only when ok]
// When the filter left the image unchanged, the payload is the very zmq::message_t that came in.
//
// Threads: construct, Submit, DropQueued and destroy on the main thread, which must have bound
// the PAIR's other end at `address` first. The compute thread's PAIR socket is its own. A running
// filter cannot be interrupted: the destructor waits for it, so a worker that must exit at once
// ends the process with std::_Exit instead of destroying this.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/filters/filter.h"

namespace pixelmill::worker {

struct ComputeTask {
  uint64_t session = 0;  // the connection the job came on; results of old ones are dropped
  uint64_t job_id = 0;
  FilterSpec spec;
  FilterContext context;
  zmq::message_t payload;     // the source image
  bool log_warnings = false;  // print libvips' warnings about the image (--log-level debug)
};

// One finished job as read from the PAIR socket.
struct FinishedJob {
  uint64_t session = 0;
  uint64_t job_id = 0;
  std::vector<zmq::message_t> frames;  // Envelope{result} [+ payload]: ready for the DEALER
};

// Runs one task on the calling thread and builds its finished-job message: the session frame,
// then the Result envelope and, when ok, the image.
std::vector<zmq::message_t> RunTask(ComputeTask& task);

class ComputeThread {
 public:
  // Starts the thread, which connects a PAIR socket to `address` (already bound) in `context`.
  ComputeThread(zmq::context_t& context, std::string address);
  ComputeThread(const ComputeThread&) = delete;
  ComputeThread& operator=(const ComputeThread&) = delete;
  // Drops queued tasks and joins the thread, waiting for a filter that is running.
  ~ComputeThread();

  // Queues a task behind the running and queued ones.
  void Submit(ComputeTask task);
  // Forgets every queued task (not the running one); returns their job ids.
  std::vector<uint64_t> DropQueued();

 private:
  void Main() noexcept;
  // Blocks until a task is queued (true) or the thread must stop (false).
  bool Next(ComputeTask& task);

  zmq::context_t& context_;
  const std::string address_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<ComputeTask> queue_;  // guarded by mutex_
  bool stop_ = false;              // guarded by mutex_
  std::thread thread_;             // last: starts after the members above exist
};

// Reads one finished job from the main thread's PAIR end without blocking; false if none waits.
// Throws zmq::error_t only for socket errors.
bool ReceiveFinished(zmq::socket_t& pair, FinishedJob& out);

}  // namespace pixelmill::worker
