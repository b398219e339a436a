#include "coordinator/engine/pipeline.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

#include "common/wire/curve_keys.h"
#include "coordinator/engine/user_rules.h"
#include "coordinator/events/run_text.h"
#include "coordinator/output/output_layout.h"

namespace pixelmill {
namespace {

SinkOptions SinkOptionsOf(const Options& options) {
  SinkOptions sink;
  sink.output_dir = options.output_dir;
  sink.durable = options.durable;
  sink.commit_delay_ms_for_tests = options.commit_delay_ms_for_tests;  // 0 but in tests
  return sink;
}

}  // namespace

Pipeline::Pipeline(const Options& options, UserStore& store, Observer& observer, StopRequest* stop,
                   const Clock& clock)
    : options_(options),
      store_(store),
      observer_(observer),
      feed_(observer, options.output_dir),
      stop_(stop),
      clock_(clock),
      budget_(options.max_memory),
      downloader_(
          loop_, options.download, [this](Download&& d) { Record(downloaded_, std::move(d)); },
          &budget_, clock),
      sink_(loop_, SinkOptionsOf(options)),
      dedupe_(store, DedupeModeOf(options.dedupe)) {
  uv_loop_init(&loop_);
  on_fatal_ = [this](const char* where, const char* what) {
    KeepFirstFatal(fatal_event_, where, what);
    Wake();
  };
  InstallFatalHandler(loop_, &on_fatal_);
}

Pipeline::~Pipeline() { CloseLoopOrDie(loop_); }

PipelineResult Pipeline::Run() {
  metrics_.emplace(clock_, observer_);
  PipelineResult result;
  size_t todo = 0;
  for (size_t i = 0; i < store_.size(); ++i) todo += store_.status(i) == UserStatus::kPending;
  skipped_ = store_.size() - todo;
  // Stop requests (main's signal handler, a Cancel() from another thread) first: one that came
  // while the input loaded or comes while workers are being spawned stops the run in order.
  if (stop_ != nullptr) stop_->Attach(loop_, [this] { Wake(); });
  uv_check_init(&loop_, &pump_);
  pump_.data = this;
  uv_check_start(&pump_, [](uv_check_t* h) {
    Guarded(h->loop, "pump", [&] { static_cast<Pipeline*>(h->data)->Pump(); });
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(&pump_));
  uv_idle_init(&loop_, &wake_);
  wake_.data = this;
  uv_timer_init(&loop_, &grace_);
  grace_.data = this;
  uv_timer_init(&loop_, &budget_poll_);
  budget_poll_.data = this;
  uv_timer_init(&loop_, &progress_);
  progress_.data = this;
  uv_timer_start(
      &progress_,
      [](uv_timer_t* t) {
        Guarded(t->loop, "progress", [&] {
          auto* self = static_cast<Pipeline*>(t->data);
          self->observer_.OnProgress(self->Snapshot());
        });
      },
      100, 100);
  uv_unref(reinterpret_cast<uv_handle_t*>(&progress_));

  if (Status s = sink_.Open(); !s.ok()) {
    observer_.OnEvent(LogLevel::kError, s.message());
    CloseLoopHandles();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return result;
  }
  result.output_opened = true;
  if (Status s = downloader_.Init(); !s.ok()) fatal_ = s.message();
  if (fatal_.empty() && !options_.filter_spec.IsNone()) {
    if (Status s = StartWorkers(); !s.ok()) fatal_ = s.message();
  }
  if (!fatal_.empty()) Enter(Phase::kStopping);  // nothing started: close everything, report fatal_
  Pump();
  uv_run(&loop_, UV_RUN_DEFAULT);
  // The sink's last commits ended while the stages closed (the pump may be closed by then).
  while (HandleEvents()) {
  }

  static_cast<LineCounts&>(result) = lines_;
  static_cast<RunFigures&>(result) = metrics_->Figures();
  result.left = todo - lines_.ok - lines_.failed;
  result.downloads = downloader_.stats();
  if (dispatcher_) {
    result.dispatch = dispatcher_->stats();
    result.dispatch.by_worker = dispatcher_->figures_by_worker();
  }
  if (supervisor_) result.worker_restarts = supervisor_->restarts();
  result.manifest_syncs = sink_.syncs();
  result.budget_limit = budget_.limit();
  result.budget_peak = budget_.peak();
  result.dedupe = dedupe_stats_;
  observer_.OnProgress(Snapshot());
  result.exit_code =
      EndOfRun(observer_, stop_requested_, stop_signal_, fatal_, lines_.ok, lines_.failed,
               result.left, options_.command_line, result.interrupted);
  return result;
}

// The loop's order, once per iteration (after the poll phase) and once at the start:
//   1. handle what the callbacks recorded: a fatal error, signals, ended commits, gathered
//      results (committed, or failed), finished downloads (probed, then dispatched or
//      committed);
//   2. start downloads while the downloader accepts more, the byte budget is not full and
//      fewer than kMaxDownstream downloaded users wait to be filtered or written;
//   3. after a first signal, stop once nothing is in flight (or the grace time is over);
//   4. shut down when every user has its line or the run is stopping.
// Phases only go forward: a stop request while draining, an error while stopping, never move
// the run back.
bool Pipeline::Enter(Phase next) {
  if (phase_ >= next) return false;
  phase_ = next;
  return true;
}

void Pipeline::Pump() {
  if (pumping_) return;  // a stage called from here recorded an event: the loop below sees it
  pumping_ = true;
  while (HandleEvents()) {
  }
  if (phase_ != Phase::kClosing) {
    // Bytes freed since the last pass (images written, results gathered): paused bodies
    // resume, waiting transfers go on the wire.
    downloader_.OnBudgetFreed();
    if (downloader_.paused() > 0) {
      if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&budget_poll_))) {
        uv_timer_start(
            &budget_poll_,
            [](uv_timer_t* t) {
              Guarded(t->loop, "budget poll", [&] { static_cast<Pipeline*>(t->data)->Wake(); });
            },
            100, 100);
      }
    } else {
      uv_timer_stop(&budget_poll_);
    }
  }
  if (phase_ == Phase::kRunning) {
    StartDownloads();
    while (HandleEvents()) {
    }
  }
  if (phase_ == Phase::kDraining && (grace_over_ || !InFlight())) Abandon("");
  if (phase_ != Phase::kClosing && busy_ == 0 &&
      (phase_ == Phase::kStopping || next_ == store_.size())) {
    ShutDown();
  }
  Sample();
  if (phase_ != Phase::kClosing) WatchForTrouble();
  if (!closing_.done()) uv_idle_stop(&wake_);
  pumping_ = false;
}

// Notable conditions worth one log line each (never one per user): see RunMetrics::Watch.
void Pipeline::WatchForTrouble() {
  const DownloadStats d = downloader_.stats();
  metrics_->Watch(budget_.full() || downloader_.paused() > 0, budget_.limit(), d.requests,
                  d.retries);
}

// An event was recorded: the loop must reach the pump without blocking in its poll phase (an
// active idle handle makes the poll return at once; the pump stops it again).
void Pipeline::Wake() {
  if (!closing_.done()) uv_idle_start(&wake_, [](uv_idle_t*) {});
}

void Pipeline::CloseLoopHandles() {
  if (stop_ != nullptr) stop_->Detach();
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&pump_), reinterpret_cast<uv_handle_t*>(&wake_),
        reinterpret_cast<uv_handle_t*>(&grace_), reinterpret_cast<uv_handle_t*>(&budget_poll_),
        reinterpret_cast<uv_handle_t*>(&progress_)}) {
    uv_close(h, nullptr);
  }
}

bool Pipeline::HandleEvents() {
  bool any = false;
  if (!fatal_event_.empty()) {
    std::string why = std::move(fatal_event_);
    fatal_event_.clear();
    Abandon(why);
    any = true;
  }
  while (stop_ != nullptr && stops_handled_ < stop_->requests()) {
    ++stops_handled_;
    HandleStop(stop_->first_signal());
    any = true;
  }
  while (!written_.empty()) {
    Written w = std::move(written_.front());
    written_.pop_front();
    HandleWritten(w);
    any = true;
  }
  while (!filtered_.empty()) {
    JobOutcome o = std::move(filtered_.front());
    filtered_.pop_front();
    if (phase_ < Phase::kStopping) HandleFiltered(o);  // else abandoned: left for a resume
    any = true;
  }
  while (!downloaded_.empty()) {
    Download d = std::move(downloaded_.front());
    downloaded_.pop_front();
    if (phase_ < Phase::kStopping) HandleDownload(d);
    any = true;
  }
  return any;
}

void Pipeline::StartDownloads() {
  // A user is the downloader's until its body arrives, then downstream until its manifest line
  // is written. The byte budget bounds what downloads hold (the downloader puts nothing on the
  // wire while it is full); kMaxDownstream bounds the bookkeeping.
  // Followers waiting for their leader hold 4 bytes each, not a downstream place.
  while (next_ < store_.size() && downloader_.accepting() && !budget_.full() &&
         busy_ - downloader_.pending() - dedupe_.waiting() < kMaxDownstream) {
    const size_t user = next_++;
    if (store_.status(user) != UserStatus::kPending) continue;
    ++busy_;
    if (dispatcher_ && !dispatcher_->gave_up().empty()) {
      // No worker will ever come: fail the rest without downloading their images.
      Fail(user, Status::Error(Code::kNoWorkers, dispatcher_->gave_up()), 0);
      continue;
    }
    const std::optional<size_t> leader = dedupe_.UrlLeaderOf(user);
    if (!leader || !Follow(user, *leader)) StartDownload(user);
  }
}

void Pipeline::StartDownload(size_t user) {
  if (Status refused = downloader_.Start(user, store_.Get(user).image_url); !refused.ok()) {
    Fail(user, refused, 0);
  }
}

bool Pipeline::Follow(size_t user, size_t leader) {
  switch (store_.status(leader)) {
    case UserStatus::kOk:
    case UserStatus::kSkipped:  // ok in an earlier run, its file checked by the replay
      CommitFollower(user, leader);
      return true;
    case UserStatus::kFailed:
      if (const Status* failure = dedupe_.FailureOf(leader)) {
        Fail(user, *failure, 0, leader);
        return true;
      }
      return false;  // failed in an earlier run: its error is not known here
    case UserStatus::kPending:
      dedupe_.Wait(leader, user);  // in flight: its line will come
      return true;
  }
  return false;
}

ManifestRecord Pipeline::FollowerRecord(size_t user, Follower& kind) {
  ManifestRecord info;
  kind = Follower::kUrl;
  if (auto it = fetched_.find(user); it != fetched_.end()) {
    info = DownloadedRecord(it->second.attempts, it->second.took);
    fetched_.erase(it);
    kind = Follower::kContent;
  }
  return info;
}

void Pipeline::CommitFollower(size_t user, size_t leader) {
  Follower kind = Follower::kNo;
  ManifestRecord info = FollowerRecord(user, kind);
  const OutputFormat format = store_.format(leader);
  store_.SetOutcome(user, UserStatus::kPending, format);
  info.id = OwnedUserId(store_.id(user));
  info.output = OutputLayout::ImagePath(store_.id(user), format, options_.fan_out_images);
  info.format = format;
  info.deduplicated_from = OwnedUserId(store_.id(leader));
  if (dispatcher_) {
    info.filtered = true;  // by the leader's job: none of this user's own
    info.filter = options_.filter_spec.text;
  }
  const uint32_t attempts = TotalAttempts(info);
  // The line is made once the link is (it has the image's size); kept for feed_ if it wants it.
  auto kept = feed_.on() ? std::make_shared<std::string>() : nullptr;
  sink_.CommitLink(
      OutputLayout::ImagePath(store_.id(leader), format, options_.fan_out_images), info.output,
      [info, kept](const ImageWriter::Linked& image) mutable {
        info.bytes = image.bytes;
        info.width = image.width;
        info.height = image.height;
        std::string line = ToLine(info);
        if (kept) *kept = line;
        return line;
      },
      [this, user, attempts, kind, kept](CommitResult result, const Status& status) {
        Record(written_, Written{user,
                                 UserStatus::kOk,
                                 result,
                                 status,
                                 attempts,
                                 {},
                                 {},
                                 kind,
                                 kept ? std::move(*kept) : std::string()});
      });
}

void Pipeline::ResolveFollowers(size_t user) {
  if (phase_ >= Phase::kStopping) return;  // the waiting followers are left for a resume
  for (const uint32_t follower : dedupe_.TakeWaiters(user)) {
    if (!Follow(follower, user)) StartDownload(follower);
  }
}

bool Pipeline::InFlight() const {
  return downloader_.in_flight() > 0 || (dispatcher_ && dispatcher_->pending() > 0) ||
         !downloaded_.empty() || !filtered_.empty();
}

// Tells the metrics which stages wait on the next one now (only while the run is running).
void Pipeline::Sample() {
  const bool running = phase_ == Phase::kRunning;
  StagesWaiting waiting;
  waiting.downloads =
      running && next_ < store_.size() && (budget_.full() || downloader_.paused() > 0);
  waiting.images = running && dispatcher_ && dispatcher_->queued() > 0;
  waiting.results = running && sink_.files_waiting() > 0;
  metrics_->Sample(waiting, dispatcher_ ? dispatcher_->workers() : 0);
}

// Local workers connect over an abstract-namespace ipc:// endpoint (Linux: no file, so nothing
// is left behind whatever ends the run; peers of another user id are refused), remote ones to
// --bind. The supervisor spawns the local ones; their exit reports reach the dispatcher.
Status Pipeline::StartWorkers() {
  std::random_device random;
  char name[64];
  std::snprintf(name, sizeof(name), "ipc://@pixelmill-%d-%08x%08x", static_cast<int>(::getpid()),
                random(), random());
  const std::string endpoint = name;
  DispatchOptions d;
  d.filter = options_.filter_spec;
  d.output = options_.filter_output;
  d.max_attempts = options_.max_attempts;
  d.heartbeat_ms = options_.heartbeat_ms;
  d.clock = &clock_;
  d.endpoints = {endpoint};
  if (!options_.bind.empty()) d.endpoints.push_back(options_.bind);
  if (!options_.curve_secret.empty()) {
    Result<CurveKeyPair> keys = ReadSecretCertificate(options_.curve_secret);
    if (!keys.ok()) return keys.status();
    d.curve = std::move(keys).value();
    d.allow_workers = options_.allow_workers;
  }
  d.max_payload_bytes = options_.download.max_image_bytes * 4 + (1 << 20);
  d.expected_workers = options_.workers;
  d.job_timeout_ms = options_.job_timeout_ms();
  d.remote_wait_ms = options_.remote_wait_ms();
  d.observer = &observer_;
  d.on_local_join = [this](uint32_t pid) {
    if (supervisor_) supervisor_->MarkReady(static_cast<pid_t>(pid));
  };
  d.on_local_lost = [this](uint32_t pid) {
    if (supervisor_) supervisor_->Kill(static_cast<pid_t>(pid));
  };
  dispatcher_ = std::make_unique<Dispatcher>(
      loop_, std::move(d), [this](JobOutcome&& o) { Record(filtered_, std::move(o)); }, &budget_);
  if (Status s = dispatcher_->Init(); !s.ok()) return s;
  if (!options_.bind.empty()) {
    const bool curve = !options_.curve_secret.empty();
    // --insecure is said out loud at every start (and the report's options record it).
    observer_.OnEvent(
        options_.insecure ? LogLevel::kWarning : LogLevel::kInfo,
        "remote workers may connect to " + dispatcher_->bound().back() +
            (curve ? " (CurveZMQ: encrypted, keys in " + options_.allow_workers + " only)"
                   : " (plain TCP: unencrypted, any peer that reaches it may join)"));
  }
  if (options_.workers == 0) {
    dispatcher_->NoLocalWorkers("no local workers (--workers 0)");
    return Status::Ok();
  }
  SupervisorOptions sup;
  sup.workers = options_.workers;
  sup.worker_binary = options_.worker_binary;
  sup.endpoint = endpoint;
  sup.observer = &observer_;
  sup.address_space_mb = options_.worker_memory_mb > 0
                             ? options_.worker_memory_mb
                             : WorkerAddressSpaceMb(options_.filter_output.max_pixels);
  supervisor_ = std::make_unique<WorkerSupervisor>(
      loop_, std::move(sup),
      [this](pid_t pid, const std::string& how) {
        if (phase_ != Phase::kClosing) dispatcher_->WorkerExited(static_cast<uint32_t>(pid), how);
      },
      [this](const std::string& why) { dispatcher_->NoLocalWorkers(why); });
  return supervisor_->Start();
}

void Pipeline::HandleDownload(Download& d) {
  const size_t user = d.tag;
  metrics_->DownloadEnded(user, d.elapsed);
  if (!d.failure.ok()) return Fail(user, d.failure, d.attempts);
  Result<ImageHeader> header = ProbeDownloaded(d);
  if (!header.ok()) return Fail(user, header.status(), d.attempts);
  const Fetched fetched{d.attempts, d.elapsed};
  if (const std::optional<size_t> leader = dedupe_.ContentLeaderOf(user, d.body.view())) {
    fetched_[user] = fetched;  // its own download, for its line
    if (Follow(user, *leader)) return;
    fetched_.erase(user);
  }
  if (!dispatcher_) {
    ManifestRecord info = DownloadedRecord(fetched.attempts, fetched.took);
    SaveUnfiltered(header.value(), d.body, info);
    return Commit(user, std::move(d.body), std::move(info));
  }
  if (!dispatcher_->gave_up().empty()) {
    return Fail(user, Status::Error(Code::kNoWorkers, dispatcher_->gave_up()), d.attempts);
  }
  fetched_[user] = fetched;
  const UserId id = store_.id(user);
  dispatcher_->Submit(user, id.number, std::move(d.body), id.text);
}

void Pipeline::HandleFiltered(JobOutcome& o) {
  ManifestRecord info;
  if (auto it = fetched_.find(o.user); it != fetched_.end()) {
    info = DownloadedRecord(it->second.attempts, it->second.took);
    fetched_.erase(it);
  }
  if (!o.error.ok()) {
    return Fail(o.user, o.error, info.download_attempts + o.attempts);
  }
  metrics_->Filtered(o.cpu_micros);
  RecordFiltered(options_.filter_spec, o, info);
  Commit(o.user, std::move(o.image), std::move(info));
}

void Pipeline::Commit(size_t user, ImageBuffer bytes, ManifestRecord info) {
  const uint32_t attempts = PrepareOkLine(store_, user, bytes, options_.fan_out_images, info);
  std::string path = info.output;
  std::string line = ToLine(info);
  std::string kept = feed_.on() ? line : std::string();
  sink_.Commit(
      std::move(path), std::move(bytes), std::move(line),
      [this, user, attempts, kept](CommitResult result, const Status& status) {
        Record(
            written_,
            Written{user, UserStatus::kOk, result, status, attempts, {}, {}, Follower::kNo, kept});
      });
}

void Pipeline::Fail(size_t user, const Status& error, uint32_t attempts,
                    std::optional<size_t> leader) {
  Follower kind = Follower::kNo;
  std::optional<UserId> from;
  if (leader) {
    attempts = TotalAttempts(FollowerRecord(user, kind));
    from = store_.id(*leader);
  }
  if (phase_ == Phase::kClosing) {
    --busy_;  // the sink is closing: the user is left for a resume
    return;
  }
  std::string line = FailedLine(store_.id(user), error, attempts, from);
  std::string kept = feed_.on() ? line : std::string();
  sink_.AppendManifest(std::move(line), [this, user, error, kind, kept](const Status& status) {
    const CommitResult result = status.ok() ? CommitResult::kCommitted : CommitResult::kLineFailed;
    Record(written_,
           Written{user, UserStatus::kFailed, result, status, 0, error.code(), error, kind, kept});
  });
}

// Counts only what the manifest holds: a line that could not be written is not a result.
void Pipeline::HandleWritten(Written& w) {
  const CommitEnd end = JudgeCommit(w.result, w.error);
  if (end.action == CommitEnd::kFailUser) {
    return Fail(w.user, w.error, w.attempts);
  }
  assert(busy_ > 0);
  --busy_;
  if (end.action == CommitEnd::kStopRun) return Abandon(end.why);  // the user is left for a resume
  store_.SetOutcome(w.user, w.status, store_.format(w.user));
  lines_.Count(w.status, w.code);
  metrics_->LineWritten(w.user);
  if (!w.line.empty()) feed_.Committed(w.line);
  if (w.follower != Follower::kNo) {
    ++dedupe_stats_.deduplicated;
    dedupe_stats_.downloads_saved += w.follower == Follower::kUrl;
    dedupe_stats_.filter_jobs_saved += dispatcher_ != nullptr;
  }
  if (w.status == UserStatus::kFailed) dedupe_.LeaderFailed(w.user, w.failure);
  ResolveFollowers(w.user);
}

void Pipeline::HandleStop(int signum) {
  if (phase_ == Phase::kClosing) return;  // a Ctrl-C now must not kill the cleanup
  stop_requested_ = true;
  stop_signal_ = signum;
  if (phase_ == Phase::kDraining || options_.grace_ms() == 0) return Abandon("");  // stop now
  if (!Enter(Phase::kDraining)) return;  // already stopping
  downloader_.StopStarting();
  char text[160];
  std::snprintf(text, sizeof text,
                "%s: starting no new downloads; finishing the work in flight for up to %.1f s "
                "(send it again to stop now)",
                StopSignalName(signum), static_cast<double>(options_.grace_ms()) / 1000);
  observer_.OnEvent(LogLevel::kWarning, text);
  uv_timer_start(
      &grace_,
      [](uv_timer_t* t) {
        Guarded(t->loop, "grace timer", [&] {
          auto* self = static_cast<Pipeline*>(t->data);
          self->grace_over_ = true;
          self->Wake();
        });
      },
      options_.grace_ms(), 0);
}

void Pipeline::Abandon(const std::string& why) {
  if (phase_ == Phase::kClosing) return;  // already closing (or every user is done)
  Enter(Phase::kStopping);
  if (fatal_.empty()) fatal_ = why;  // "" for a signal: Run() says how to resume
  // Downloads and jobs in flight are abandoned; their users get no line, like the ones never
  // started, and are redone by a resume.
  downloaded_.clear();
  filtered_.clear();
  ShutDown();
}

ProgressSample Pipeline::Snapshot() const {
  ProgressSample p;
  p.elapsed_s = Seconds(metrics_->elapsed());
  p.total = store_.size();
  p.skipped = skipped_;
  p.ok = lines_.ok;
  p.failed = lines_.failed;
  p.downloads_in_flight = downloader_.in_flight();
  p.downloads_waiting = downloader_.pending() - downloader_.in_flight();
  if (dispatcher_) {
    p.images_waiting = dispatcher_->queued();
    p.jobs_in_flight = dispatcher_->pending() - dispatcher_->queued();
    p.workers = dispatcher_->workers();
    p.filter_cpu_s = static_cast<double>(dispatcher_->stats().cpu_micros) / 1e6;
  }
  p.writes_pending = sink_.pending();
  p.budget_used = budget_.used();
  p.budget_limit = budget_.limit();
  p.bytes_downloaded = downloader_.stats().bytes;
  const StageWaits& waits = metrics_->waits();
  p.downloads_waiting_for_memory_s = waits.downloads_waiting_s;
  p.images_waiting_for_workers_s = waits.images_waiting_s;
  p.results_waiting_for_disk_s = waits.results_waiting_s;
  return p;
}

void Pipeline::ShutDown() {
  if (!Enter(Phase::kClosing)) return;
  uv_timer_stop(&grace_);
  uv_timer_stop(&budget_poll_);
  // The pump, the signals and the grace timer stay until every stage has closed: the sink's
  // last commits are still counted, and a Ctrl-C while workers are being stopped is ignored
  // instead of killing the coordinator mid-cleanup.
  closing_.Start([this] { CloseLoopHandles(); });
  downloader_.Close(closing_.Member());
  // Workers get Shutdown first, then two seconds to go before SIGKILL.
  if (dispatcher_) dispatcher_->Close(closing_.Member());
  if (supervisor_) supervisor_->Close(std::chrono::seconds(2), closing_.Member());
  sink_.Close([this, closed = closing_.Member()](const Status& s) {
    if (!s.ok() && fatal_.empty()) fatal_ = s.message();
    closed();
  });
  closing_.Seal();
}

}  // namespace pixelmill
