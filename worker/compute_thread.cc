#include "worker/compute_thread.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <zmq_addon.hpp>

#include "common/base/peer_text.h"
#include "common/wire/protocol.h"

namespace pixelmill::worker {
namespace {

// The whole process's CPU time: an image library may run pixel work on threads of its own.
uint64_t ProcessCpuMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// Filters report failures as values; this also turns a stray exception (e.g. bad_alloc on a huge
// image) into one, so it never ends the thread.
Result<FilterOutput> RunFilterSafely(const FilterSpec& spec, const FilterContext& context,
                                     std::string_view input) {
  try {
    return RunFilter(spec, context, input);
  } catch (const std::exception& e) {
    return Status::Error(Code::kInternal,
                         std::string("filter '") + spec.text + "' failed: " + e.what());
  }
}

}  // namespace

std::vector<zmq::message_t> RunTask(ComputeTask& task) {
  const std::string_view input(static_cast<const char*>(task.payload.data()), task.payload.size());
  // Instant filters take no measurable CPU; skipping the two clock calls matters at 100k jobs/s.
  const bool timed = !IsInstant(task.spec);
  const uint64_t cpu_start = timed ? ProcessCpuMicros() : 0;
  Result<FilterOutput> output = RunFilterSafely(task.spec, task.context, input);
  const uint64_t cpu_micros = timed ? ProcessCpuMicros() - cpu_start : 0;

  proto::Envelope envelope;
  proto::Result& result = *envelope.mutable_result();
  result.set_job_id(task.job_id);
  result.set_cpu_micros(cpu_micros);

  std::vector<zmq::message_t> frames;
  const uint64_t tag[2] = {task.session, task.job_id};
  frames.emplace_back(tag, sizeof tag);
  if (!output.ok()) {
    result.mutable_error()->set_code(std::string(CodeName(output.status().code())));
    result.mutable_error()->set_message(output.status().message());
    frames.push_back(EncodeEnvelope(envelope));
    return frames;
  }
  FilterOutput& out = output.value();
  result.set_warnings(out.warnings);
  if (task.log_warnings && out.warnings > 0) {
    std::fprintf(stderr, "worker: debug: job %llu: %u libvips warning(s): %s\n",
                 static_cast<unsigned long long>(task.job_id), out.warnings,
                 PeerText(out.warning_text).c_str());
  }
  if (out.bytes.has_value()) result.set_content_type(std::string(ContentTypeFor(out.format)));
  result.set_width(out.width);
  result.set_height(out.height);
  frames.push_back(EncodeEnvelope(envelope));
  if (out.bytes.has_value()) {
    frames.push_back(std::move(*out.bytes).ToMessage());  // no copy: the frame owns the bytes
  } else {
    frames.push_back(std::move(task.payload));  // unchanged: no copy
  }
  return frames;
}

ComputeThread::ComputeThread(zmq::context_t& context, std::string address)
    : context_(context), address_(std::move(address)), thread_([this] { Main(); }) {}

ComputeThread::~ComputeThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  thread_.join();
}

void ComputeThread::Submit(ComputeTask task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

std::vector<uint64_t> ComputeThread::DropQueued() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint64_t> dropped;
  dropped.reserve(queue_.size());
  for (const ComputeTask& task : queue_) dropped.push_back(task.job_id);
  queue_.clear();
  return dropped;
}

bool ComputeThread::Next(ComputeTask& task) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
  if (stop_) return false;
  task = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

void ComputeThread::Main() noexcept {
  // Nothing may escape a thread function; a compute thread that cannot talk to the main thread
  // leaves a worker that silently never answers, so that is fatal.
  try {
    zmq::socket_t pair(context_, zmq::socket_type::pair);
    pair.set(zmq::sockopt::linger, 0);
    pair.connect(address_);
    ComputeTask task;
    while (Next(task)) {
      std::vector<zmq::message_t> frames = RunTask(task);
      task = ComputeTask{};
      // Blocking send: the main thread drains the PAIR on every wake-up.
      if (!zmq::send_multipart(pair, frames)) throw std::runtime_error("result hand-off failed");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: error: compute thread failed: %s\n", e.what());
    std::_Exit(1);
  }
}

bool ReceiveFinished(zmq::socket_t& pair, FinishedJob& out) {
  out.frames.clear();
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(pair, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
    return false;
  }
  // The compute thread is ours; a differently shaped message is a bug, not untrusted input.
  if (frames.size() < 2 || frames[0].size() != 2 * sizeof(uint64_t)) {
    std::fprintf(stderr, "worker: error: internal error: bad finished-job message\n");
    std::abort();
  }
  std::memcpy(&out.session, frames[0].data(), sizeof out.session);
  std::memcpy(&out.job_id, frames[0].data<char>() + sizeof out.session, sizeof out.job_id);
  for (size_t i = 1; i < frames.size(); ++i) out.frames.push_back(std::move(frames[i]));
  return true;
}

}  // namespace pixelmill::worker
