#include "coordinator/workers/dispatcher.h"
#include "coordinator/events/callback_guard.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "common/base/peer_text.h"
#include "common/base/version.h"
#include "common/filters/result_check.h"
#include "coordinator/events/event.h"

namespace pixelmill {
namespace {

// Invalid results in a row after which a worker is stopped.
constexpr uint32_t kMaxBadResults = 3;

// Heartbeat intervals without a word after which a worker is dead.
constexpr int kMissedHeartbeats = 3;

// At most one warning line this often for a kind of repeated trouble (malformed messages,
// invalid results).
constexpr Duration kLogEvery = std::chrono::seconds(1);

// How often the remote wait is announced.
constexpr Duration kWaitLogEvery = std::chrono::seconds(10);

using std::chrono::milliseconds;

// Whether a line logged `last` (never: nullopt) may be followed by another at `now`, at most
// one every `every`; if so, `last` becomes `now`.
bool Due(std::optional<TimePoint>& last, TimePoint now, Duration every) {
  if (last && now - *last < every) return false;
  last = now;
  return true;
}

// Below this size a copy is cheaper than sharing (two allocations and a cross-thread free).
constexpr size_t kShareAbove = 8 * 1024;

// A payload frame that shares the job's image instead of copying it: ZeroMQ frees its
// reference (from its I/O thread) once the frame is sent.
zmq::message_t SharedFrame(const ImageBytes& image) {
  auto holder = std::make_unique<ImageBytes>(image);
  zmq::message_t frame(
      const_cast<char*>(image->data()), image->size(),
      [](void*, void* hint) {
        std::unique_ptr<ImageBytes> release(static_cast<ImageBytes*>(hint));
      },
      holder.get());
  holder.release();  // now owned by the frame's free function
  return frame;
}

}  // namespace

Status WorkerFailure(const std::string& code, const std::string& message) {
  const std::optional<Code> known = CodeFromName(code);
  if (known && IsManifestCode(*known)) return Status::Error(*known, PeerText(message));
  if (code.empty()) return Status::Error(Code::kFilter, PeerText(message));
  return Status::Error(Code::kFilter, PeerText(code) + ": " + PeerText(message));
}

Dispatcher::Dispatcher(uv_loop_t& loop, DispatchOptions options, DoneFn on_done, ByteBudget* budget)
    : loop_(loop),
      options_(std::move(options)),
      on_done_(std::move(on_done)),
      budget_(budget),
      observer_(options_.observer != nullptr ? options_.observer : &StderrObserver()),
      clock_(options_.clock != nullptr ? *options_.clock : RealClock()),
      pool_(options_.max_attempts) {}

Dispatcher::~Dispatcher() { assert(!handles_open_ || closing_handles_.done()); }

Status Dispatcher::Init() {
  try {
    // Made here, not in the constructor: creating them can throw (zmq::error_t).
    context_ = std::make_unique<zmq::context_t>(1);
    socket_ = zmq::socket_t(*context_, zmq::socket_type::router);
    socket_.set(zmq::sockopt::router_mandatory, 1);
    socket_.set(zmq::sockopt::linger, 200);
    socket_.set(zmq::sockopt::sndhwm, 0);  // credits bound what is queued, not the HWM
    socket_.set(zmq::sockopt::maxmsgsize,
                static_cast<int64_t>(options_.max_payload_bytes + kMaxEnvelopeBytes));
    // ipc peers must run as our user (an abstract-namespace endpoint has no file permissions).
    const int uid = static_cast<int>(::getuid());
    zmq_setsockopt(socket_.handle(), ZMQ_IPC_FILTER_UID, &uid, sizeof(uid));
    if (options_.curve) {
      // Before any bind with a ZAP domain: without a handler libzmq admits every CURVE peer.
      // Handshakes that fail before ZAP is asked (plain peers, a wrong server key) are seen
      // on the socket's monitor, read by the ZAP handler's thread.
      const std::string monitor = "inproc://pixelmill-handshakes";
      if (zmq_socket_monitor(socket_.handle(), monitor.c_str(), kHandshakeEvents) != 0) {
        throw zmq::error_t();
      }
      Result<std::unique_ptr<ZapHandler>> zap =
          ZapHandler::Start(*context_, options_.allow_workers, monitor);
      if (!zap.ok()) return zap.status();
      zap_ = std::move(zap).value();
    }
    // Plain endpoints first: the ZAP domain a CURVE bind sets stays on the socket (libzmq
    // refuses to set it back to empty), and would send plain peers to the ZAP handler too.
    std::vector<std::string> endpoints = options_.endpoints;
    std::stable_partition(endpoints.begin(), endpoints.end(),
                          [&](const std::string& e) { return !Curve(e); });
    for (const std::string& endpoint : endpoints) Bind(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Error(Code::kBind, "cannot listen for workers: " + std::string(e.what()));
  }
  started_ = clock_.Now();
  proto::Job& job = *job_envelope_.mutable_job();
  job.set_filter(options_.filter.text);
  job.set_output_format(ToWire(options_.output.format));
  job.set_quality(static_cast<uint32_t>(options_.output.quality));
  job.set_keep_metadata(options_.output.keep_metadata);
  job.set_max_pixels(options_.output.max_pixels);
  uv_poll_init(&loop_, &poll_, socket_.get(zmq::sockopt::fd));
  poll_.data = this;
  uv_poll_start(&poll_, UV_READABLE, &Dispatcher::OnReadable);
  uv_timer_init(&loop_, &heartbeat_);
  heartbeat_.data = this;
  uv_timer_start(&heartbeat_, &Dispatcher::OnHeartbeat, options_.heartbeat_ms,
                 options_.heartbeat_ms);
  handles_open_ = true;
  return Status::Ok();
}

bool Dispatcher::Curve(const std::string& endpoint) const {
  return options_.curve && endpoint.rfind("tcp://", 0) == 0;
}

void Dispatcher::Bind(const std::string& endpoint) {
  const bool curve = Curve(endpoint);
  // Options apply to the binds after them: the local ipc:// endpoint stays without keys (its
  // peers are filtered by user id), a tcp:// one demands CURVE and an admitted key.
  socket_.set(zmq::sockopt::curve_server, curve);
  if (curve) {
    socket_.set(zmq::sockopt::curve_secretkey, options_.curve->secret_key);
    socket_.set(zmq::sockopt::zap_domain, kZapDomain);
    // ZMQ_ZAP_ENFORCE_DOMAIN (a draft option, 93 in libzmq 4.3, not named by Debian's header):
    // without it a handshake whose ZAP handler is missing succeeds.
    constexpr int kZapEnforceDomain = 93;
    const int on = 1;
    if (zmq_setsockopt(socket_.handle(), kZapEnforceDomain, &on, sizeof(on)) != 0) {
      throw zmq::error_t();
    }
  }
  socket_.bind(endpoint);
  bound_.push_back(socket_.get(zmq::sockopt::last_endpoint));
}

void Dispatcher::CheckKeys() {
  if (!zap_) return;
  for (const ZapRefusal& r : zap_->TakeRefusals()) {
    observer_->OnStructuredEvent(EventBuilder(LogLevel::kWarning, "worker_refused")
                                     .Text("refused a worker from ")
                                     .Field("address", r.address)
                                     .Text(r.fingerprint.empty() ? "" : " with key ")
                                     .Field("key", r.fingerprint)
                                     .Text(": ")
                                     .Field("reason", r.reason)
                                     .Text(" (logged once for this key and address)")
                                     .Done());
  }
  const std::vector<std::string> everyone = pool_.order();  // WorkerDead changes the order
  for (const std::string& identity : everyone) {
    const WorkerInfo* worker = pool_.Find(identity);
    if (worker == nullptr || worker->key.empty() || zap_->Admitted(worker->key)) continue;
    // Out of the pool, it hears nothing more: it reconnects, and ZAP refuses the new handshake.
    WorkerDead(identity, "its key " + KeyFingerprint(worker->key) + " left --allow-workers");
  }
}

void Dispatcher::Submit(size_t user, int64_t user_id, ImageBuffer image,
                        std::string_view user_string_id) {
  pool_.Submit(user, user_id, std::make_shared<const ImageBuffer>(std::move(image)),
               user_string_id);
  Dispatch();
  Drain();
}

void Dispatcher::OnReadable(uv_poll_t* poll, int, int) {
  Guarded(poll->loop, "worker socket", [&] { static_cast<Dispatcher*>(poll->data)->Drain(); });
}

// ZMQ_FD only says "something changed": receive until nothing is left, then read ZMQ_EVENTS,
// which re-arms the edge-triggered fd (sends made while handling may have consumed the edge)
// and tells whether more arrived meanwhile. Reading ZMQ_EVENTS costs a system call, so it is
// read once per burst, not once per message.
void Dispatcher::Drain() {
  if (draining_ || closing_) return;
  draining_ = true;
  while (!closing_) {
    if (ReceiveFrames(socket_, frames_)) {
      Handle(frames_);
      continue;
    }
    if (!(SocketEvents(socket_) & ZMQ_POLLIN)) break;
  }
  draining_ = false;
}

void Dispatcher::Handle(std::vector<zmq::message_t>& frames) {
  if (frames.size() < 2) return Malformed("message without a routing id or envelope");
  const std::string identity = frames[0].to_string();
  frames.erase(frames.begin());
  // Read before decoding takes the frames apart: the kernel's word, not the peer's.
  const uint32_t local_pid = IpcPeerPid(frames[0]);
  // The key ZAP admitted (its reply's user id): set by libzmq, never by the peer.
  const char* user_id = zmq_msg_gets(frames[0].handle(), "User-Id");
  const std::string key = user_id != nullptr ? user_id : "";
  Result<Message> decoded = DecodeMessage(frames, Sender::kWorker, options_.max_payload_bytes);
  if (!decoded.ok()) {
    // Most likely a Hello we cannot read (too big, another encoding): without an answer the
    // worker would wait for a Welcome forever, so it hears why and exits.
    if (pool_.Find(identity) == nullptr) {
      RejectPeer(identity,
                 "the coordinator dropped this worker's message: " + decoded.status().message());
    }
    return Malformed(decoded.status().message());
  }
  Message& message = decoded.value();
  if (message.envelope.has_hello()) {
    return OnHello(identity, message.envelope.hello(), local_pid, key);
  }
  WorkerInfo* worker = pool_.Find(identity);
  if (worker == nullptr && message.envelope.has_result()) {
    ++late_results_;  // from a worker we stopped or declared dead: its jobs went elsewhere
    return;
  }
  if (worker == nullptr) {
    // A worker we declared dead (e.g. it was frozen) or never greeted: it gets no heartbeats
    // from us, notices, and says Hello again.
    return Malformed(std::string("a ") + BodyName(message.envelope) + " from an unknown worker");
  }
  worker->last_heard = clock_.Now();
  if (message.envelope.has_result()) OnResult(identity, message);
  if (message.envelope.has_leave()) OnLeave(identity, message.envelope.leave());
}

void Dispatcher::OnLeave(const std::string& identity, const proto::Leave& leave) {
  WorkerInfo& worker = *pool_.Find(identity);
  size_t returned = 0;
  for (uint64_t job_id : leave.returned_job_ids()) returned += pool_.Return(identity, job_id);
  const std::string reason = PeerText(leave.reason());
  if (!worker.leaving) {
    worker.leaving = true;
    observer_->OnStructuredEvent(EventBuilder(LogLevel::kInfo, "worker_leaving")
                                     .Text("worker ")
                                     .Field("worker", worker.worker_id)
                                     .Text(" is leaving (")
                                     .Field("reason", reason)
                                     .Text("): ")
                                     .Field("returned", returned)
                                     .Text(" job(s) returned, ")
                                     .Field("finishing", worker.jobs.size())
                                     .Text(" to finish")
                                     .Done());
  }
  if (leave.done()) {
    // Jobs it does not name as abandoned were on their way when it left: never started.
    const std::unordered_set<uint64_t> abandoned(leave.abandoned_job_ids().begin(),
                                                 leave.abandoned_job_ids().end());
    const std::vector<uint64_t> held(worker.jobs.begin(), worker.jobs.end());
    for (uint64_t job_id : held) {
      if (abandoned.count(job_id) == 0) pool_.Return(identity, job_id);
    }
    // The worker waits for this before it exits, so its Leave is known to have arrived.
    proto::Envelope bye;
    bye.mutable_shutdown()->set_reason("goodbye");
    Send(identity, bye);
    RemoveWorker(identity, "left (" + reason + ")", Code::kWorkerDied, true);
    return;
  }
  Dispatch();
}

void Dispatcher::OnHello(const std::string& identity, const proto::Hello& hello, uint32_t local_pid,
                         const std::string& key) {
  // Peer text, escaped once here: every log line and manifest line uses these copies. A CURVE
  // worker is named by its key too: what it states can be anything, its key cannot.
  const std::string worker_id =
      PeerText(hello.worker_id()) + (key.empty() ? "" : " key:" + KeyFingerprint(key));
  proto::Envelope reply;
  std::string refusal;
  if (hello.worker_id().size() > kMaxWorkerIdBytes) {
    refusal = "worker id of " + std::to_string(hello.worker_id().size()) +
              " bytes is over the limit of " + std::to_string(kMaxWorkerIdBytes) + " (worker --id)";
  } else if (hello.protocol_version() != kProtocolVersion) {
    refusal = "protocol version " + std::to_string(hello.protocol_version()) +
              " is not supported; this coordinator speaks version " +
              std::to_string(kProtocolVersion);
  } else if (hello.build_version() != kVersion) {
    // Another build may filter differently (or lack a fix) with the same wire: one run, one
    // build. An empty version is a worker older than this check.
    refusal = "worker version " +
              (hello.build_version().empty() ? std::string("unknown (older than 0.1.0)")
                                             : PeerText(hello.build_version())) +
              " is not this coordinator's version " + std::string(kVersion) +
              ": install the same pixelmill version on every worker host";
  } else if (hello.capacity() == 0 || hello.capacity() > 1024) {
    refusal = "capacity " + std::to_string(hello.capacity()) + " is outside 1..1024";
  } else {
    // A worker of another version may lack a filter: refuse it now rather than fail jobs.
    for (const FilterStep& step : options_.filter.steps) {
      if (std::find(hello.filters().begin(), hello.filters().end(), step.name) ==
          hello.filters().end()) {
        refusal = "this run's filter needs '" + step.name + "', which the worker does not have";
        break;
      }
    }
  }
  if (!refusal.empty()) {
    ++stats_.rejected;
    observer_->OnStructuredEvent(EventBuilder(LogLevel::kWarning, "worker_rejected")
                                     .Text("rejected worker ")
                                     .Field("worker", worker_id)
                                     .Text(" (pid ")
                                     .Field("pid", hello.pid())
                                     .Text("): ")
                                     .Field("reason", refusal)
                                     .Done());
    reply.mutable_reject()->set_reason(refusal);
    Send(identity, reply);
    return;
  }
  if (pool_.Find(identity) != nullptr) WorkerDead(identity, "said Hello again");
  WorkerInfo info;
  info.identity = identity;
  info.worker_id = worker_id;
  info.host = PeerText(hello.host());
  info.pid = hello.pid();
  info.local_pid = local_pid;
  info.key = key;
  info.capacity = hello.capacity();
  info.last_heard = clock_.Now();
  // A remote worker joining is news; local ones join at every start.
  observer_->OnStructuredEvent(
      EventBuilder(local_pid > 0 ? LogLevel::kDebug : LogLevel::kInfo, "worker_joined")
          .Text("worker ")
          .Field("worker", worker_id)
          .Text(" joined (pid ")
          .Field("pid", hello.pid())
          .Text(", capacity ")
          .Field("capacity", hello.capacity())
          .Text(")")
          .Done());
  ledger_.Joined(worker_id, info.host, key.empty() ? "" : KeyFingerprint(key), local_pid == 0,
                 clock_.Now());
  pool_.Add(std::move(info));
  ++stats_.workers_joined;
  if (options_.on_local_join && local_pid > 0) options_.on_local_join(local_pid);
  reply.mutable_welcome()->set_heartbeat_ms(options_.heartbeat_ms);
  reply.mutable_welcome()->set_protocol_version(kProtocolVersion);
  if (Send(identity, reply)) Dispatch();
}

void Dispatcher::OnResult(const std::string& identity, Message& message) {
  const proto::Result& result = message.envelope.result();
  const std::string worker_id = pool_.Find(identity)->worker_id;
  std::optional<JobRecord> job = pool_.Complete(identity, result.job_id());
  if (!job) return;  // late or foreign: counted by the pool, dropped
  ++stats_.results;
  ledger_.Result(worker_id, !result.has_error(), result.cpu_micros(), message.payload.size(),
                 clock_.Now() - job->sent_at);
  stats_.cpu_micros += result.cpu_micros();
  stats_.image_warnings += result.warnings();
  JobOutcome outcome;
  outcome.user = job->user;
  outcome.attempts = job->attempt;
  outcome.cpu_micros = result.cpu_micros();
  outcome.worker = worker_id;
  if (result.has_error()) {
    outcome.error = WorkerFailure(result.error().code(), result.error().message());
  } else {
    // A worker's bytes are checked like a download's: an empty or garbled result is not saved.
    const std::string_view bytes(static_cast<const char*>(message.payload.data()),
                                 message.payload.size());
    Result<ImageHeader> header = CheckFilterResult(options_.filter, options_.output, bytes);
    WorkerInfo& worker = *pool_.Find(identity);
    if (!header.ok()) {
      const std::string why =
          "worker " + worker_id + " returned an invalid image: " + header.status().message();
      Refuse(identity, *job, why);
      if (++worker.bad_streak >= kMaxBadResults) StopWorker(identity, why, Code::kBadResult);
      return Dispatch();
    }
    worker.bad_streak = 0;
    job->result_estimate.Reset();  // the result's real size replaces the estimate
    ByteLease lease(budget_);
    lease.Grow(message.payload.size());
    outcome.image = ImageBuffer::FromMessage(std::move(message.payload));
    outcome.image.set_lease(std::move(lease));
    outcome.image.set_format(header->format);
    outcome.width = header->width;
    outcome.height = header->height;
  }
  on_done_(std::move(outcome));
  Dispatch();
}

// A result failed its check: that attempt failed; the job goes to another worker if it may.
void Dispatcher::Refuse(const std::string& identity, JobRecord& job, const std::string& why) {
  ++stats_.bad_results;
  if (Due(last_bad_result_log_, clock_.Now(), kLogEvery)) {
    Emit(*observer_, LogLevel::kWarning, "%s (%llu so far)", why.c_str(),
         static_cast<unsigned long long>(stats_.bad_results));
  }
  if (std::optional<JobRecord> out = pool_.Retry(std::move(job), identity)) {
    GiveUp(*out, Code::kBadResult, why);
  }
  if (!gave_up_.empty()) FailQueued(gave_up_);
}

// Sends queued jobs while some worker has credit, the least loaded first.
void Dispatcher::Dispatch() {
  while (!closing_ && pool_.queued() > 0) {
    const JobRecord& next = *pool_.NextQueued();
    WorkerInfo* worker = pool_.PickLeastLoaded(next.avoid, next.alone);
    if (worker == nullptr) return;
    if (!worker->jobs.empty() && pool_.workers() < options_.expected_workers &&
        clock_.Now() < started_ + milliseconds(options_.fill_grace_ms)) {
      // The pool is still filling: wait for the next Hello (or the heartbeat after the grace).
      return;
    }
    const std::string identity = worker->identity;
    ByteLease estimate(budget_);
    estimate.Grow(pool_.NextQueued()->image->size());
    const uint64_t job_id = *pool_.AssignNext(*worker, clock_.Now(), std::move(estimate));
    const JobRecord& job = *pool_.job(job_id);
    proto::Job* j = job_envelope_.mutable_job();  // reused: filter and limits stay set
    j->set_job_id(job_id);
    j->set_user_id(job.user_id);
    j->set_user_string_id(job.user_string_id);
    j->set_attempt(job.attempt);
    zmq::message_t payload = job.image->size() < kShareAbove
                                 ? zmq::message_t(job.image->data(), job.image->size())
                                 : SharedFrame(job.image);
    if (!Send(identity, job_envelope_, &payload)) {
      pool_.Unassign(job_id);
      Unreachable(identity);
      continue;
    }
    ++stats_.jobs_sent;
  }
}

bool Dispatcher::Send(const std::string& identity, const proto::Envelope& envelope,
                      zmq::message_t* payload) {
  zmq::message_t id(identity.data(), identity.size());
  return SendMessage(socket_, &id, envelope, payload);
}

void Dispatcher::OnHeartbeat(uv_timer_t* timer) {
  Guarded(timer->loop, "heartbeat timer",
          [&] { static_cast<Dispatcher*>(timer->data)->Heartbeat(); });
}

void Dispatcher::Heartbeat() {
  const TimePoint now = clock_.Now();
  const milliseconds silence = kMissedHeartbeats * milliseconds(options_.heartbeat_ms);
  for (const std::string& identity : pool_.SilentSince(now - silence)) {
    WorkerDead(identity,
               "missed 3 heartbeats (silent for " + std::to_string(silence.count()) + " ms)");
  }
  CheckDeadlines(now);
  CheckRemoteWait(now);
  CheckKeys();
  Dispatch();  // the pool-filling grace may have ended
  proto::Envelope beat;
  beat.mutable_heartbeat();
  const std::vector<std::string> everyone = pool_.order();
  for (const std::string& identity : everyone) {
    if (!Send(identity, beat)) Unreachable(identity);
  }
  Drain();
}

void Dispatcher::WorkerExited(uint32_t pid, const std::string& how) {
  if (auto identity = pool_.FindLocal(pid)) WorkerDead(*identity, "worker " + how);
  Drain();
}

// The worker's connection is gone. A local worker whose process still exists is most likely
// dying right now: send it nothing more and let its exit status (from the supervisor, within
// milliseconds) or the heartbeat deadline say why, so a user who fails because of it gets the
// real reason ("signal 9"), not just "unreachable".
void Dispatcher::Unreachable(const std::string& identity) {
  WorkerInfo* worker = pool_.Find(identity);
  if (worker == nullptr) return;
  if (worker->local_pid > 0 && ::kill(static_cast<pid_t>(worker->local_pid), 0) == 0) {
    worker->credits = 0;
    return;
  }
  WorkerDead(identity, "unreachable (its connection is gone)");
}

void Dispatcher::WorkerDead(const std::string& identity, const std::string& why, Code code) {
  RemoveWorker(identity, why, code, false);
}

void Dispatcher::RemoveWorker(const std::string& identity, const std::string& why, Code code,
                              bool left) {
  const WorkerInfo* worker = pool_.Find(identity);
  if (worker == nullptr) return;
  const size_t held = worker->jobs.size();
  const uint32_t pid = worker->pid;
  const uint32_t local_pid = worker->local_pid;
  observer_->OnStructuredEvent(EventBuilder(left ? LogLevel::kInfo : LogLevel::kWarning,
                                            left ? "worker_left" : "worker_lost")
                                   .Text(left ? "worker " : "lost worker ")
                                   .Field("worker", worker->worker_id)
                                   .Text(" (pid ")
                                   .Field("pid", pid)
                                   .Text(left ? ") " : "): ")
                                   .Field("reason", why)
                                   .Text("; ")
                                   .Field("jobs_to_retry", held)
                                   .Text(" job(s) to retry")
                                   .Done());
  ledger_.Left(worker->worker_id, clock_.Now());
  std::vector<JobRecord> given_up = pool_.Remove(identity);
  ++(left ? stats_.workers_left : stats_.workers_lost);
  // A local process that may still be running (frozen, hung) is killed and replaced; the
  // supervisor ignores pids that are not its own children.
  if (!left && local_pid > 0 && options_.on_local_lost) options_.on_local_lost(local_pid);
  for (JobRecord& job : given_up) GiveUp(job, code, why);
  // Jobs requeued after the dispatcher gave up would wait for a worker that never comes.
  if (!gave_up_.empty()) FailQueued(gave_up_);
  Dispatch();
}

void Dispatcher::GiveUp(JobRecord& job, Code code, const std::string& why) {
  JobOutcome outcome;
  outcome.user = job.user;
  outcome.attempts = job.attempt;
  outcome.error = Status::Error(code, why + "; gave up after " + std::to_string(job.attempt) +
                                          (job.attempt == 1 ? " attempt" : " attempts"));
  on_done_(std::move(outcome));
}

// A worker that heartbeats but holds a job past the job timeout (a hung filter, a buggy or
// malicious remote worker) is told to shut down and treated as dead: its jobs go elsewhere.
void Dispatcher::CheckDeadlines(TimePoint now) {
  const milliseconds limit(options_.job_timeout_ms);
  for (const std::string& identity : pool_.HoldingSince(now - limit)) {
    char why[128];
    std::snprintf(why, sizeof(why), "held a job for more than %.1f s (--job-timeout)",
                  Seconds(limit));
    stats_.timed_out += pool_.Find(identity)->jobs.size();
    StopWorker(identity, why, Code::kJobTimeout);
  }
}

// Tells a worker that misbehaves while alive to leave, and treats it as dead.
void Dispatcher::StopWorker(const std::string& identity, const std::string& why, Code code) {
  proto::Envelope bye;
  bye.mutable_shutdown()->set_reason(why);
  Send(identity, bye);
  WorkerDead(identity, why, code);
}

void Dispatcher::NoLocalWorkers(const std::string& why) {
  local_gone_ = why;
  if (options_.endpoints.size() <= 1) {  // only the local endpoint: nobody else can come
    gave_up_ = why;
    FailQueued(why);
  }
}

void Dispatcher::CheckRemoteWait(TimePoint now) {
  if (local_gone_.empty() || !gave_up_.empty()) return;
  if (pool_.workers() > 0) {
    waiting_since_.reset();
    return;
  }
  if (!waiting_since_) waiting_since_ = now;
  const milliseconds limit(options_.remote_wait_ms);
  const Duration left = limit - (now - *waiting_since_);
  std::string remote;
  for (size_t i = 1; i < bound_.size(); ++i) remote += (i > 1 ? ", " : "") + bound_[i];
  if (left <= Duration::zero()) {
    char why[160];
    std::snprintf(why, sizeof(why), "no worker joined within %.0f s (--remote-wait)",
                  Seconds(limit));
    gave_up_ = std::string(why) + "; " + local_gone_;
    Emit(*observer_, LogLevel::kWarning, "%s: giving up", gave_up_.c_str());
    FailQueued(gave_up_);
    return;
  }
  if (Due(last_wait_log_, now, kWaitLogEvery)) {
    Emit(*observer_, LogLevel::kWarning,
         "no worker connected (%s); waiting for a remote worker on %s: %zu "
         "job(s) waiting, giving up in %.0f s",
         local_gone_.c_str(), remote.c_str(), pool_.queued(), Seconds(left));
  }
}

void Dispatcher::FailQueued(const std::string& message) {
  for (JobRecord& job : pool_.DrainQueue()) {
    JobOutcome outcome;
    outcome.user = job.user;
    outcome.attempts = job.attempt - 1;
    outcome.error = Status::Error(Code::kNoWorkers, message);
    on_done_(std::move(outcome));
  }
}

void Dispatcher::RejectPeer(const std::string& identity, const std::string& why) {
  // Once per connection: a peer that floods garbage and never reads gets one answer, not a
  // queue of them. The set only grows with connections; it is cleared when large.
  if (rejected_peers_.size() >= 4096) rejected_peers_.clear();
  if (!rejected_peers_.insert(identity).second) return;
  proto::Envelope reply;
  reply.mutable_reject()->set_reason(why);
  Send(identity, reply);
}

void Dispatcher::Malformed(const std::string& why) {
  ++stats_.malformed;
  if (Due(last_malformed_log_, clock_.Now(), kLogEvery)) {
    Emit(*observer_, LogLevel::kWarning, "dropped a worker message: %s (%llu so far)", why.c_str(),
         static_cast<unsigned long long>(stats_.malformed));
  }
}

DispatchStats Dispatcher::stats() const {
  DispatchStats s = stats_;
  s.duplicates = pool_.duplicates() + late_results_;
  s.requeued = pool_.requeued();
  return s;
}

void Dispatcher::Close(std::function<void()> on_closed) {
  if (handles_open_) {
    proto::Envelope bye;
    bye.mutable_shutdown()->set_reason("the run is over");
    for (const std::string& identity : pool_.order()) Send(identity, bye);
  }
  closing_ = true;
  closing_handles_.Start([this, on_closed = std::move(on_closed)] {
    socket_.close();  // lingers up to 200 ms so the Shutdowns leave
    if (on_closed) on_closed();
  });
  if (handles_open_) {
    closing_handles_.Close(&poll_);
    closing_handles_.Close(&heartbeat_);
  }
  closing_handles_.Seal();
}

}  // namespace pixelmill
