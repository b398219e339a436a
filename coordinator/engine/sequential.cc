#include "coordinator/engine/sequential.h"

#include <unistd.h>

#include <optional>
#include <string>
#include <utility>

#include "common/base/hostname.h"
#include "common/filters/filter.h"
#include "coordinator/download/downloader.h"
#include "coordinator/engine/in_process_filter.h"
#include "coordinator/engine/user_result_feed.h"
#include "coordinator/engine/user_rules.h"
#include "coordinator/events/callback_guard.h"
#include "coordinator/events/run_text.h"
#include "coordinator/output/manifest.h"
#include "coordinator/output/sink.h"

namespace pixelmill {
namespace {

class SequentialRun {
 public:
  SequentialRun(const Options& options, UserStore& store, Observer& observer, StopRequest* stop)
      : options_(options),
        store_(store),
        observer_(observer),
        feed_(observer, options.output_dir),
        stop_(stop),
        downloader_(loop_, options.download,
                    [this](Download&& d) { downloaded_.emplace(std::move(d)); }),
        sink_(loop_, SinkOptions{options.output_dir, options.durable}),
        worker_id_(Hostname() + ":" + std::to_string(::getpid()) + ":sequential") {
    uv_loop_init(&loop_);
    on_fatal_ = [this](const char* where, const char* what) {
      KeepFirstFatal(fatal_, where, what);
    };
    InstallFatalHandler(loop_, &on_fatal_);
  }
  SequentialRun(const SequentialRun&) = delete;
  SequentialRun& operator=(const SequentialRun&) = delete;
  ~SequentialRun() { CloseLoopOrDie(loop_); }

  PipelineResult Run();

 private:
  // Whether the run must stop now: a second signal, or the grace time after the first is over.
  bool ShouldStop();
  // The first stop signal was seen: says so once and starts the grace timer.
  void NoteSignal();
  void RunUser(size_t user);
  // Runs the loop until the download started for a user ends; nullopt when the run stops first
  // (the download is abandoned by Close()).
  std::optional<Download> AwaitDownload();
  void Commit(size_t user, ImageBuffer bytes, ManifestRecord info);
  void Fail(size_t user, const Status& error, uint32_t attempts);
  // Runs the private loop until `done` is true (the sink's callback ran); false (and fatal_ set)
  // if the loop ran out of work first.
  bool RunLoopUntil(const bool& done);
  // Closes the downloader and the sink (if `opened`: the sink opened), then the loop's own
  // handles.
  void CloseAll(bool opened);

  int StopRequests() const { return stop_ != nullptr ? stop_->requests() : 0; }
  int StopSignal() const { return stop_ != nullptr ? stop_->first_signal() : 0; }

  const Options& options_;
  UserStore& store_;
  Observer& observer_;
  UserResultFeed feed_;
  StopRequest* stop_;
  uv_loop_t loop_{};
  FatalHandler on_fatal_;
  Downloader downloader_;
  Sink sink_;
  uv_timer_t grace_{};
  const std::string worker_id_;
  std::optional<Download> downloaded_;  // recorded by the downloader's callback
  LineCounts lines_;                    // as the Pipeline counts them
  uint64_t image_warnings_ = 0;         // libvips warnings about the images filtered here
  bool signal_noted_ = false;
  bool grace_over_ = false;  // recorded by the grace timer
  std::string fatal_;        // why the run stopped early, if it did
};

bool SequentialRun::ShouldStop() {
  const int signals = StopRequests();
  if (signals == 0) return false;
  NoteSignal();
  return signals >= 2 || options_.grace_ms() == 0 || grace_over_;
}

void SequentialRun::NoteSignal() {
  if (signal_noted_) return;
  signal_noted_ = true;
  Emit(observer_, LogLevel::kWarning,
       "%s: starting no new user; finishing the one in flight for up to %.1f s (send it again "
       "to stop now)",
       StopSignalName(StopSignal()), static_cast<double>(options_.grace_ms()) / 1000);
  if (options_.grace_ms() == 0) return;
  uv_timer_start(
      &grace_,
      [](uv_timer_t* t) {
        Guarded(t->loop, "grace timer",
                [&] { static_cast<SequentialRun*>(t->data)->grace_over_ = true; });
      },
      options_.grace_ms(), 0);
}

PipelineResult SequentialRun::Run() {
  const TimePoint started = RealClock().Now();
  PipelineResult result;
  size_t todo = 0;
  for (size_t i = 0; i < store_.size(); ++i) todo += store_.status(i) == UserStatus::kPending;
  // A stop request wakes the loop out of a download; ShouldStop() decides what it means.
  if (stop_ != nullptr) stop_->Attach(loop_, [] {});
  uv_timer_init(&loop_, &grace_);
  grace_.data = this;
  if (Status s = sink_.Open(); !s.ok()) {
    observer_.OnEvent(LogLevel::kError, s.message());
    CloseAll(false);
    return result;
  }
  result.output_opened = true;
  if (Status s = downloader_.Init(); !s.ok()) fatal_ = s.message();
  if (fatal_.empty() && !options_.filter_spec.IsNone()) {
    if (Status s = InitFilters(); !s.ok()) fatal_ = s.message();
  }
  for (size_t user = 0; user < store_.size() && fatal_.empty(); ++user) {
    if (store_.status(user) != UserStatus::kPending) continue;
    if (StopRequests() > 0) {
      NoteSignal();
      break;  // no new user after a stop signal
    }
    RunUser(user);
  }
  result.downloads = downloader_.stats();
  CloseAll(true);

  static_cast<LineCounts&>(result) = lines_;
  result.left = todo - lines_.ok - lines_.failed;
  result.manifest_syncs = sink_.syncs();
  result.dispatch.image_warnings = image_warnings_;
  result.wall_seconds = Seconds(RealClock().Now() - started);
  // A stop that came after the last user started leaves nothing undone: the run completed.
  result.exit_code =
      EndOfRun(observer_, StopRequests() > 0 && result.left > 0, StopSignal(), fatal_, lines_.ok,
               lines_.failed, result.left, options_.command_line, result.interrupted);
  return result;
}

void SequentialRun::CloseAll(bool opened) {
  if (opened) {
    bool downloads_closed = false, sink_closed = false;
    downloader_.Close([&] { downloads_closed = true; });
    sink_.Close([&](const Status& s) {
      if (!s.ok() && fatal_.empty()) fatal_ = s.message();
      sink_closed = true;
    });
    RunLoopUntil(sink_closed);
    RunLoopUntil(downloads_closed);
  }
  if (stop_ != nullptr) stop_->Detach();
  uv_close(reinterpret_cast<uv_handle_t*>(&grace_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);  // the closing handles
}

// One user, start to line: download, check, filter, commit. Returns with its line written, or
// with none when the run is stopping (the user is left for a resume).
void SequentialRun::RunUser(size_t user) {
  if (Status refused = downloader_.Start(user, store_.Get(user).image_url); !refused.ok()) {
    return Fail(user, refused, 0);
  }
  std::optional<Download> d = AwaitDownload();
  if (!d) return;  // stopped mid-download
  if (!d->failure.ok()) return Fail(user, d->failure, d->attempts);
  Result<ImageHeader> header = ProbeDownloaded(*d);
  if (!header.ok()) return Fail(user, header.status(), d->attempts);
  ManifestRecord info = DownloadedRecord(d->attempts, d->elapsed);
  if (options_.filter_spec.IsNone()) {
    SaveUnfiltered(header.value(), d->body, info);
    return Commit(user, std::move(d->body), std::move(info));
  }
  InProcessFiltered filtered = FilterInProcess(user, options_.filter_spec, options_.filter_output,
                                               std::move(d->body), worker_id_);
  if (filtered.warnings > 0) {
    image_warnings_ += filtered.warnings;
    Emit(observer_, LogLevel::kDebug, "user %s: %u libvips warning(s): %s",
         IdText(store_.id(user)).c_str(), filtered.warnings, filtered.warning_text.c_str());
  }
  JobOutcome& o = filtered.outcome;
  if (!o.error.ok()) return Fail(user, o.error, d->attempts + o.attempts);
  RecordFiltered(options_.filter_spec, o, info);
  Commit(user, std::move(o.image), std::move(info));
}

std::optional<Download> SequentialRun::AwaitDownload() {
  downloaded_.reset();
  while (!downloaded_) {
    if (ShouldStop() || !fatal_.empty()) return std::nullopt;
    if (uv_run(&loop_, UV_RUN_ONCE) == 0 && !downloaded_) {
      if (fatal_.empty()) fatal_ = "internal error: a download never ended";
      return std::nullopt;
    }
  }
  std::optional<Download> d = std::move(downloaded_);
  downloaded_.reset();
  return d;
}

void SequentialRun::Commit(size_t user, ImageBuffer bytes, ManifestRecord info) {
  const uint32_t attempts = PrepareOkLine(store_, user, bytes, options_.fan_out_images, info);
  bool done = false;
  CommitResult how = CommitResult::kCommitted;
  Status error;
  std::string line = ToLine(info);
  std::string kept = feed_.on() ? line : std::string();
  sink_.Commit(info.output, std::move(bytes), std::move(line),
               [&](CommitResult result, const Status& status) {
                 how = result;
                 error = status;
                 done = true;
               });
  if (!RunLoopUntil(done)) return;
  const CommitEnd end = JudgeCommit(how, error);
  switch (end.action) {
    case CommitEnd::kDone:
      store_.SetOutcome(user, UserStatus::kOk, info.format);
      lines_.Count(UserStatus::kOk, {});
      feed_.Committed(kept);
      return;
    case CommitEnd::kFailUser:
      return Fail(user, error, attempts);
    case CommitEnd::kStopRun:
      fatal_ = end.why;  // the user is left for a resume
      return;
  }
}

void SequentialRun::Fail(size_t user, const Status& error, uint32_t attempts) {
  bool done = false;
  Status written;
  std::string line = FailedLine(store_.id(user), error, attempts);
  std::string kept = feed_.on() ? line : std::string();
  sink_.AppendManifest(std::move(line), [&](const Status& status) {
    written = status;
    done = true;
  });
  if (!RunLoopUntil(done)) return;
  const CommitEnd end =
      JudgeCommit(written.ok() ? CommitResult::kCommitted : CommitResult::kLineFailed, written);
  if (end.action != CommitEnd::kDone) {
    fatal_ = end.why;
    return;
  }
  store_.SetOutcome(user, UserStatus::kFailed, store_.format(user));
  lines_.Count(UserStatus::kFailed, error.code());
  feed_.Committed(kept);
}

bool SequentialRun::RunLoopUntil(const bool& done) {
  // The sink's requests keep the loop alive until its callback has run (its sync timer does
  // not). A loop that empties first had an exception at a callback entry (fatal_ says which).
  while (!done) {
    if (uv_run(&loop_, UV_RUN_ONCE) == 0 && !done) {
      if (fatal_.empty()) fatal_ = "internal error: a write to the output never ended";
      return false;
    }
  }
  return true;
}

}  // namespace

PipelineResult RunSequential(const Options& options, UserStore& store, Observer& observer,
                             StopRequest* stop) {
  SequentialRun run(options, store, observer, stop);
  return run.Run();
}

}  // namespace pixelmill
