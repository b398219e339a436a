#include "worker/worker_loop.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <utility>

#include "common/base/hostname.h"
#include "common/base/peer_text.h"
#include "common/base/version.h"
#include "common/filters/filter.h"
#include "worker/stop_signal.h"

namespace pixelmill::worker {
namespace {

using std::chrono::milliseconds;

// What a job asks of the filter beyond its spec; zeros mean the worker's defaults.
FilterContext ContextOf(const proto::Job& job) {
  FilterContext context;
  context.format = FromWire(job.output_format());
  if (job.quality() >= 1 && job.quality() <= 100) context.quality = static_cast<int>(job.quality());
  context.keep_metadata = job.keep_metadata();
  if (job.max_pixels() > 0) context.max_pixels = job.max_pixels();
  return context;
}

// Before Welcome names the interval, and when Welcome's is 0.
constexpr milliseconds kDefaultHeartbeat{1000};
// Welcome's interval is untrusted: keep it sane.
constexpr milliseconds kMinHeartbeat{10};
constexpr milliseconds kMaxHeartbeat{600'000};
constexpr int kMissedIntervals = 3;
constexpr milliseconds kMinBackoff{500};
constexpr milliseconds kMaxBackoff{5000};
// Messages handled per wake-up, so a flood cannot starve heartbeats and results.
constexpr int kMaxDrain = 256;
// What Handle returns for "this session is over, connect again" (keep_running).
constexpr int kReconnect = -1;

std::string DefaultWorkerId(const std::string& host) {
  std::random_device random;
  char nonce[9];
  std::snprintf(nonce, sizeof nonce, "%08x", static_cast<unsigned>(random()));
  return host + ":" + std::to_string(::getpid()) + ":" + nonce;
}

long long Millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

// A local worker must not outlive the coordinator that spawned it.
bool DieWithParent() {
  const pid_t parent = ::getppid();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    std::fprintf(stderr, "worker: prctl(PR_SET_PDEATHSIG): %s\n", std::strerror(errno));
    return false;
  }
  // The parent may have died before prctl: then we were already handed to init (or a reaper).
  if (parent == 1 || ::getppid() != parent) {
    std::fprintf(stderr, "worker: the coordinator that started this worker is gone, exiting\n");
    return false;
  }
  return true;
}

// zmq::poll, riding out EINTR.
void Poll(zmq::pollitem_t* items, size_t count, milliseconds timeout) {
  try {
    zmq::poll(items, count, std::max(timeout, milliseconds{0}));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
}

// Sends ready-made frames as one message without blocking.
bool SendFrames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                             : zmq::send_flags::dontwait;
    while (true) {
      try {
        if (!socket.send(frames[i], flags)) return false;
        break;
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;  // interrupted by a signal: nothing was sent, send again
      }
    }
  }
  return true;
}

}  // namespace

void WorkerLoop::PeerLog::Print(const std::string& line) {
  const Clock::time_point now = Clock::now();
  if (printed_ && now - last_ < std::chrono::seconds(1)) {
    ++suppressed_;
    return;
  }
  if (suppressed_ > 0) {
    std::fprintf(stderr, "worker: %s (%llu similar lines suppressed)\n", line.c_str(),
                 static_cast<unsigned long long>(suppressed_));
  } else {
    std::fprintf(stderr, "worker: %s\n", line.c_str());
  }
  printed_ = true;
  last_ = now;
  suppressed_ = 0;
}

WorkerLoop::WorkerLoop(Options options)
    : options_(std::move(options)),
      host_(Hostname()),
      heartbeat_(kDefaultHeartbeat),
      backoff_(kMinBackoff) {}

WorkerLoop::~WorkerLoop() = default;

int WorkerLoop::Run() {
  int code = 1;
  try {
    code = Serve();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: error: %s\n", e.what());
  }
  CloseSocket();
  if (malformed_ > 0 || ignored_ > 0) {
    std::fprintf(stderr, "worker: dropped %llu malformed and %llu unexpected messages in all\n",
                 static_cast<unsigned long long>(malformed_),
                 static_cast<unsigned long long>(ignored_));
  }
  return code;
}

int WorkerLoop::Serve() {
  if (options_.local && !DieWithParent()) return 1;
  if (options_.worker_id.empty()) options_.worker_id = DefaultWorkerId(host_);

  const std::string address = "inproc://pixelmill-worker-results";
  results_ = zmq::socket_t(context_, zmq::socket_type::pair);
  results_.set(zmq::sockopt::linger, 0);
  results_.bind(address);
  compute_ = std::make_unique<ComputeThread>(context_, address);

  while (true) {
    if (std::optional<int> code = RunSession()) return *code;
    WaitOffline(backoff_);
    if (StopRequests() > 0) {
      std::fprintf(stderr, "worker: stopping (signal) while not connected: nothing held\n");
      return 0;
    }
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  }
}

std::optional<int> WorkerLoop::RunSession() {
  StartSession();
  while (true) {
    const Clock::time_point now = Clock::now();
    const Clock::time_point deadline = state_ == State::kWelcomed
                                           ? last_heard_ + kMissedIntervals * heartbeat_
                                           : hello_sent_ + kMissedIntervals * kDefaultHeartbeat;
    if (std::optional<int> code = CheckStop(now)) return code;
    if (now >= deadline) return CoordinatorLost(now);
    Clock::time_point wake = leaving_ ? std::min(deadline, leave_by_) : deadline;
    if (state_ == State::kWelcomed) {
      if (now >= next_heartbeat_) {
        SendHeartbeat();
        next_heartbeat_ += heartbeat_;
        if (next_heartbeat_ <= now) next_heartbeat_ = now + heartbeat_;
      }
      wake = std::min(wake, next_heartbeat_);
    }

    zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                               {results_.handle(), 0, ZMQ_POLLIN, 0}};
    Poll(items, 2, std::chrono::ceil<milliseconds>(wake - now));
    if (items[1].revents & ZMQ_POLLIN) ForwardResults();
    // Drained even when the poll timed out, so a message that came at the deadline still counts.
    if (std::optional<int> code = DrainCoordinator()) {
      return *code == kReconnect ? std::nullopt : code;
    }
  }
}

void WorkerLoop::StartSession() {
  ++session_;
  held_ = 0;
  holding_.clear();
  state_ = State::kHandshake;
  heartbeat_ = kDefaultHeartbeat;

  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  socket_.set(zmq::sockopt::linger, 0);  // what a dead session had not sent no longer matters
  socket_.set(zmq::sockopt::reconnect_ivl, 100);
  socket_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  // ZeroMQ drops a peer that sends a larger frame before it is in memory in full.
  socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_payload_bytes));
  if (options_.curve) {
    socket_.set(zmq::sockopt::curve_serverkey, options_.server_key);
    socket_.set(zmq::sockopt::curve_publickey, options_.curve->public_key);
    socket_.set(zmq::sockopt::curve_secretkey, options_.curve->secret_key);
  }
  socket_.connect(options_.endpoint);

  proto::Envelope envelope;
  proto::Hello& hello = *envelope.mutable_hello();
  hello.set_protocol_version(kProtocolVersion);
  hello.set_build_version(kVersion);
  hello.set_worker_id(options_.worker_id);
  hello.set_host(host_);
  hello.set_pid(static_cast<uint32_t>(::getpid()));
  hello.set_capacity(options_.capacity);
  for (const std::string& name : FilterNames()) hello.add_filters(name);
  // Queued until the connection is up; if it cannot be queued, the Welcome timeout retries.
  if (!SendMessage(socket_, nullptr, envelope, nullptr)) {
    std::fprintf(stderr, "worker: could not queue Hello to %s\n", options_.endpoint.c_str());
  }
  hello_sent_ = Clock::now();
}

std::optional<int> WorkerLoop::CoordinatorLost(Clock::time_point now) {
  const bool welcomed = state_ == State::kWelcomed;
  const long long silent = Millis(now - (welcomed ? last_heard_ : hello_sent_));
  const char* endpoint = options_.endpoint.c_str();
  if (options_.local) {
    if (welcomed) {
      std::fprintf(stderr, "worker: coordinator silent for %lld ms, exiting\n", silent);
    } else {
      std::fprintf(stderr,
                   "worker: no Welcome from the coordinator at %s within %lld ms, exiting\n",
                   endpoint, silent);
    }
    return 1;
  }
  if (leaving_) {
    std::fprintf(stderr, "worker: coordinator lost while leaving: exiting\n");
    return 0;
  }
  const size_t dropped = compute_->DropQueued().size();
  // Printed at the 1st, 2nd, 4th, 8th... failed try in a row: a standing worker waiting for
  // the next run says so without a line every few seconds.
  ++failed_tries_;
  const bool say = welcomed || (failed_tries_ & (failed_tries_ - 1)) == 0;
  // A CURVE handshake that fails says nothing to this side: name the likely causes.
  const char* why = welcomed || !options_.curve
                        ? ""
                        : " (unreachable, or refused at the handshake: --server-key is not the "
                          "coordinator's key, or this worker's key is not in its --allow-workers)";
  if (welcomed) failed_tries_ = 0;
  if (say) {
    std::fprintf(stderr,
                 "worker: %s %s for %lld ms%s; dropped %zu queued jobs, reconnecting in %lld ms "
                 "(try %u)\n",
                 welcomed ? "coordinator silent at" : "no Welcome from", endpoint, silent, why,
                 dropped, static_cast<long long>(backoff_.count()), failed_tries_ + 1);
  }
  CloseSocket();
  return std::nullopt;
}

std::optional<int> WorkerLoop::DrainCoordinator() {
  for (int i = 0; i < kMaxDrain && ReceiveFrames(socket_, frames_); ++i) {
    last_heard_ = Clock::now();
    Result<Message> message =
        DecodeMessage(frames_, Sender::kCoordinator, options_.max_payload_bytes);
    if (!message.ok()) {
      ++malformed_;
      peer_log_.Print("dropped malformed message: " + message.status().message());
      continue;
    }
    if (std::optional<int> code = Handle(message.value())) return code;
  }
  return std::nullopt;
}

std::optional<int> WorkerLoop::Handle(Message& message) {
  const proto::Envelope& envelope = message.envelope;
  switch (envelope.body_case()) {
    case proto::Envelope::kShutdown:
      return HandleShutdown(envelope.shutdown());
    case proto::Envelope::kReject:
      if (state_ != State::kHandshake) break;
      std::fprintf(stderr, "worker: error: rejected by coordinator: %s\n",
                   PeerText(envelope.reject().reason()).c_str());
      return 1;
    case proto::Envelope::kWelcome:
      if (state_ != State::kHandshake) break;
      return HandleWelcome(envelope.welcome());
    case proto::Envelope::kJob:
      if (state_ != State::kWelcomed) break;
      HandleJob(message);
      return std::nullopt;
    case proto::Envelope::kHeartbeat:
      return std::nullopt;  // its arrival was the point
    default:
      break;
  }
  Ignore(message);
  return std::nullopt;
}

std::optional<int> WorkerLoop::HandleWelcome(const proto::Welcome& welcome) {
  if (welcome.protocol_version() != 0 && welcome.protocol_version() != kProtocolVersion) {
    std::fprintf(stderr, "worker: error: coordinator speaks protocol version %u, this worker %u\n",
                 welcome.protocol_version(), kProtocolVersion);
    return 1;
  }
  heartbeat_ = welcome.heartbeat_ms() == 0
                   ? kDefaultHeartbeat
                   : std::clamp(milliseconds(welcome.heartbeat_ms()), kMinHeartbeat, kMaxHeartbeat);
  state_ = State::kWelcomed;
  backoff_ = kMinBackoff;
  failed_tries_ = 0;
  if (!options_.local) {
    std::fprintf(stderr, "worker: %s joined the coordinator at %s (heartbeat %lld ms)\n",
                 options_.worker_id.c_str(), options_.endpoint.c_str(),
                 static_cast<long long>(heartbeat_.count()));
  }
  last_heard_ = Clock::now();
  next_heartbeat_ = last_heard_ + heartbeat_;
  return std::nullopt;
}

void WorkerLoop::HandleJob(Message& message) {
  const proto::Job& job = message.envelope.job();
  if (leaving_) {
    // Sent before the coordinator read our Leave: it goes back the same way.
    SendLeave({job.job_id()}, false, "leaving");
    return;
  }
  if (held_ >= options_.capacity) {
    SendError(job.job_id(),
              Status::Error(Code::kOverCapacity,
                            "worker holds " + std::to_string(held_) + " jobs, its capacity"));
    return;
  }
  // Every job of a run carries the same spec: parse it once.
  if (!last_spec_ || last_filter_ != job.filter()) {
    last_filter_ = job.filter();
    last_spec_ = ParseFilterSpec(job.filter());
  }
  const Result<FilterSpec>& spec = *last_spec_;
  if (!spec.ok()) {
    SendError(job.job_id(), spec.status());
    return;
  }
  ComputeTask task{
      session_,      job.job_id(), spec.value(), ContextOf(job), std::move(message.payload),
      options_.debug};
  if (IsInstant(task.spec)) {
    // Nothing to wait for: answer at once, without two thread hand-offs.
    std::vector<zmq::message_t> frames = RunTask(task);
    frames.erase(frames.begin());  // the session frame is for the hand-off only
    if (!SendFrames(socket_, frames)) {
      peer_log_.Print("could not send a result: the send queue to the coordinator is full");
    }
    return;
  }
  ++held_;
  holding_.insert(task.job_id);
  compute_->Submit(std::move(task));
}

void WorkerLoop::ForwardResults() {
  FinishedJob done;
  while (ReceiveFinished(results_, done)) {
    // A result of an earlier session: the coordinator has requeued that job already.
    if (done.session != session_ || state_ != State::kWelcomed) continue;
    if (held_ > 0) --held_;
    holding_.erase(done.job_id);
    if (!SendFrames(socket_, done.frames)) {
      peer_log_.Print("could not send a result: the send queue to the coordinator is full");
    }
  }
}

void WorkerLoop::SendError(uint64_t job_id, const Status& error) {
  proto::Envelope envelope;
  proto::Result& result = *envelope.mutable_result();
  result.set_job_id(job_id);
  result.mutable_error()->set_code(std::string(CodeName(error.code())));
  result.mutable_error()->set_message(error.message());
  if (!SendMessage(socket_, nullptr, envelope, nullptr)) {
    peer_log_.Print("could not send a result: the send queue to the coordinator is full");
  }
}

std::optional<int> WorkerLoop::HandleShutdown(const proto::Shutdown& shutdown) {
  const std::string reason = PeerText(shutdown.reason());
  if (!options_.keep_running || leaving_) {
    if (!options_.local)
      std::fprintf(stderr, "worker: shut down by the coordinator: %s\n", reason.c_str());
    return 0;
  }
  if (held_ > 0) {
    // Stopped mid-job (a job timeout, bad results): a filter may be stuck in this process, so
    // it ends and its supervisor (--processes) starts a fresh one.
    std::fprintf(stderr, "worker: stopped by the coordinator holding %u job(s): %s; exiting\n",
                 held_, reason.c_str());
    return 1;
  }
  std::fprintf(stderr, "worker: the coordinator's run ended (%s); waiting for its next run at %s\n",
               reason.c_str(), options_.endpoint.c_str());
  CloseSocket();
  backoff_ = kMinBackoff;
  failed_tries_ = 1;  // the first silent try of the wait is not worth a line
  return kReconnect;
}

std::optional<int> WorkerLoop::CheckStop(Clock::time_point now) {
  const int requests = StopRequests();
  if (requests == 0) return std::nullopt;
  const bool welcomed = state_ == State::kWelcomed;
  if (requests >= 2 && leaving_) {
    if (welcomed) {
      SendLeave({}, true, "a second signal: stopping at once");
      AwaitGoodbye(milliseconds(500));
    }
    std::fprintf(stderr, "worker: second signal: stopping at once, %u job(s) abandoned\n", held_);
    return 1;
  }
  if (!leaving_) {
    leaving_ = true;
    leave_by_ = now + options_.grace;
    if (!welcomed) {
      std::fprintf(stderr, "worker: stopping (signal): no coordinator joined, nothing held\n");
      return 0;
    }
    const std::vector<uint64_t> returned = compute_->DropQueued();
    held_ -= std::min<uint32_t>(held_, static_cast<uint32_t>(returned.size()));
    for (uint64_t id : returned) holding_.erase(id);
    SendLeave(returned, false, "stopping (SIGTERM)");
    std::fprintf(stderr,
                 "worker: leaving (signal): returned %zu queued job(s), finishing %u within "
                 "%.1f s (--grace); a second signal stops at once\n",
                 returned.size(), held_, static_cast<double>(options_.grace.count()) / 1000);
  }
  if (held_ > 0 && now < leave_by_) return std::nullopt;
  if (welcomed) {
    SendLeave({}, true, held_ > 0 ? "--grace is over" : "stopped (SIGTERM)");
    AwaitGoodbye(milliseconds(2000));
  }
  std::fprintf(stderr, "worker: left the coordinator at %s%s\n", options_.endpoint.c_str(),
               held_ > 0 ? " (--grace over: the jobs still running go to other workers)" : "");
  return 0;
}

void WorkerLoop::SendLeave(const std::vector<uint64_t>& returned, bool done,
                           const std::string& reason) {
  proto::Envelope envelope;
  proto::Leave& leave = *envelope.mutable_leave();
  for (uint64_t id : returned) leave.add_returned_job_ids(id);
  if (done) {
    for (uint64_t id : holding_) leave.add_abandoned_job_ids(id);
  }
  leave.set_done(done);
  leave.set_reason(reason);
  if (!SendMessage(socket_, nullptr, envelope, nullptr)) {
    peer_log_.Print("could not send Leave: the send queue to the coordinator is full");
  }
}

void WorkerLoop::AwaitGoodbye(milliseconds limit) {
  const Clock::time_point until = Clock::now() + limit;
  for (Clock::time_point now = Clock::now(); now < until; now = Clock::now()) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    Poll(&item, 1, std::chrono::ceil<milliseconds>(until - now));
    while (ReceiveFrames(socket_, frames_)) {
      Result<Message> m = DecodeMessage(frames_, Sender::kCoordinator, options_.max_payload_bytes);
      if (m.ok() && m->envelope.has_shutdown()) return;
    }
  }
}

void WorkerLoop::SendHeartbeat() {
  proto::Envelope envelope;
  envelope.mutable_heartbeat();
  // A full queue means the coordinator is not reading; its silence will end the session.
  (void)SendMessage(socket_, nullptr, envelope, nullptr);
}

void WorkerLoop::WaitOffline(milliseconds delay) {
  const Clock::time_point until = Clock::now() + delay;
  for (Clock::time_point now = Clock::now(); now < until && StopRequests() == 0;
       now = Clock::now()) {
    zmq::pollitem_t item{results_.handle(), 0, ZMQ_POLLIN, 0};
    Poll(&item, 1, std::chrono::ceil<milliseconds>(until - now));
    if (item.revents & ZMQ_POLLIN) ForwardResults();
  }
}

void WorkerLoop::CloseSocket() {
  state_ = State::kOffline;
  if (socket_.handle() != nullptr) socket_.close();
}

void WorkerLoop::Ignore(const Message& message) {
  ++ignored_;
  peer_log_.Print(std::string("ignored a ") + BodyName(message.envelope) + " message " +
                  (state_ == State::kWelcomed ? "after Welcome" : "before Welcome"));
}

}  // namespace pixelmill::worker
